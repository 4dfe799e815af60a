"""Stage 5, running: :func:`~sourced_neuron.run.simulation.simulate` (one model, ``n`` neurons)
and :class:`~sourced_neuron.run.network.Network` (populations, sources, connections).

Both check the request, draw every random choice once, hand a network description to the
backend chosen in :mod:`sourced_neuron.backends` and turn its results into a Neo block with
:mod:`sourced_neuron.results`.
"""
