"""Stage 7, experiments on a model: parameter sweeps (:func:`sweep`), sensitivity analysis and
fitting, all simulated in batches (:mod:`~sourced_neuron.experiments.batch`: one population, one
neuron per parameter set) and distributed with Dask (:mod:`~sourced_neuron.experiments.cluster`).

Imports every lower stage; :mod:`sourced_neuron.inference`, :mod:`sourced_neuron.wrapper` and
:mod:`sourced_neuron.cli` sit above it."""
