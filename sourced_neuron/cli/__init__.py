"""Stage 10, the command line: ``sourced-neuron`` (:mod:`~sourced_neuron.cli.main`) and the main job,
``make demo`` (:mod:`~sourced_neuron.cli.demo`). Every subcommand imports what it needs when it
runs: ``sourced-neuron check`` loads the model stage (and with it Brian2's unit system) but no
backend and no analysis library."""
