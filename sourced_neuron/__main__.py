import sys

from sourced_neuron.cli.main import main

sys.exit(main())
