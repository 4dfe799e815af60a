"""Stage 1, the model: reading, checking and holding model and synapse files, and the stimulus.

- :mod:`~sourced_neuron.spec.yamlsafe`: safe YAML with line numbers.
- :mod:`~sourced_neuron.spec.expressions`: the expression whitelist, dimensions and evaluation
  (with ``ast``, never ``eval``); :mod:`~sourced_neuron.spec.units`: values with units at the
  package boundary.
- :mod:`~sourced_neuron.spec.parts`: the parts of a model (values, equations, receptor ports,
  presets) and the format's reserved names and limits.
- :mod:`~sourced_neuron.spec.checks`: every check of a model file, all problems reported at once.
- :mod:`~sourced_neuron.spec.model`: the immutable, hashable :class:`NeuronModel`, built from
  what the checks return.
- :mod:`~sourced_neuron.spec.library`: the model library; :mod:`~sourced_neuron.spec.synapses`:
  synapse models and their library.
- :mod:`~sourced_neuron.spec.stimulus`: the injected current, normalised once.

Imports only :mod:`sourced_neuron.common`.
"""
