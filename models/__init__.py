"""The model library, installed as ``sourced_neuron.models``: one YAML file per model."""
