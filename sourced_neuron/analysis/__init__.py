"""Stage 6, analysis of runs: measures, figures, reports, model cards and backend comparisons.

- :mod:`~sourced_neuron.analysis.measures`: spike and signal measures on Elephant, each with its
  preconditions (:data:`~sourced_neuron.analysis.measures.MEASURES`).
- :mod:`~sourced_neuron.analysis.plotting`: figures (matplotlib).
- :mod:`~sourced_neuron.analysis.report`: the analysis pipeline of a stored run.
- :mod:`~sourced_neuron.analysis.compare`: f-I curves and agreement between backends.
- :mod:`~sourced_neuron.analysis.cards`: model cards.

May run simulations (:mod:`sourced_neuron.run`) and read them (:mod:`sourced_neuron.results`).
"""
