"""Stage 0, what every stage uses: errors, files, argument checks, limits, progress, the cache folder.

- :mod:`~sourced_neuron.common.errors`: the exception classes (``sn.InputError``, ...) and
  diagnostics with file, field and line.
- :mod:`~sourced_neuron.common.files`: reading and writing users' files (regular files only,
  size caps, atomic writes through links with modes kept, full-disk messages).
- :mod:`~sourced_neuron.common.arguments`, :mod:`~sourced_neuron.common.resources`: plain
  argument checks (names, flags, whole numbers, seeds); memory estimates and the step limit.
- :mod:`~sourced_neuron.common.progress`: progress bars of simulated time.
- :mod:`~sourced_neuron.common.cache`: the cache folder (NEST modules, standalone projects,
  derived integration steps), its digests and locks.
- :mod:`~sourced_neuron.common.brian2_import`: Brian2's import without its exception hook.
- :mod:`~sourced_neuron.common.version`: the package's version.

Imports nothing else of the package.
"""
