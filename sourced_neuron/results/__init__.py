"""Stage 4, the results as Neo: the one block builder, the structure every block carries, Neo files.

Every run (a single model with :func:`sourced_neuron.simulate` or a network with
:meth:`sourced_neuron.Network.run`) becomes a Neo block here, from the backends' per-population
results, with one layout and one structure annotation read through one accessor
(docs/analysis.md). :mod:`~sourced_neuron.results.io` writes and reads NIX, NWB and CSV files.

Imports :mod:`sourced_neuron.common`, :mod:`sourced_neuron.spec` and the backend interface
(:mod:`sourced_neuron.backends.base`, for the results it turns into blocks).
"""
