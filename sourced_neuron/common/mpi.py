"""Runs under MPI (``mpirun -np K python script.py``, SLURM's ``srun``): rank, size and the two
collective operations the library needs, through mpi4py (imported only when there is more than
one process, so that a run without MPI never loads an MPI library).

The process count comes from the launcher's environment (Open MPI's ``OMPI_COMM_WORLD_SIZE``,
MPICH's and SLURM's ``PMI_SIZE``) or, where mpi4py is already
imported, from ``MPI.COMM_WORLD``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from sourced_neuron.common.errors import BackendUnavailableError

__all__ = ["allgather", "broadcast", "rank", "size"]

_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE")
_RANK_VARIABLES = ("OMPI_COMM_WORLD_RANK", "PMI_RANK")


def size() -> int:
    """The number of MPI processes of this run (1 without MPI)."""
    if "mpi4py.MPI" in sys.modules:
        return sys.modules["mpi4py.MPI"].COMM_WORLD.Get_size()
    for name in _SIZE_VARIABLES:
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 1


def rank() -> int:
    """This process's rank (0 without MPI)."""
    if "mpi4py.MPI" in sys.modules:
        return sys.modules["mpi4py.MPI"].COMM_WORLD.Get_rank()
    for name in _RANK_VARIABLES:
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 0


def _world():
    try:
        from mpi4py import MPI
    except ImportError:
        raise BackendUnavailableError(
            f"this process is one of {size()} MPI processes, and gathering their results needs mpi4py "
            "(tools/build_nest_mpi.sh installs it with NEST)"
        ) from None
    return MPI.COMM_WORLD


def broadcast(value: Any) -> Any:
    """Rank 0's ``value`` on every rank (``value`` itself without MPI)."""
    return value if size() == 1 else _world().bcast(value, root=0)


def allgather(value: Any) -> list:
    """Every rank's ``value``, in rank order, on every rank (``[value]`` without MPI)."""
    return [value] if size() == 1 else _world().allgather(value)
