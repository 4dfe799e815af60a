"""Where batches run: an embedded local Dask cluster by default, any ``dask.distributed.Client``,
or this process (``client="synchronous"``, Dask's name for running tasks in order, here).

Simulators hold global state (NEST's kernel, Brian2's device and its generated code), so the
local cluster has one single-threaded worker *process* per core; on a cluster made by
``dask_jobqueue`` (``SLURMCluster(cores=1, processes=1, ...)``) the same holds per job.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sourced_neuron.common.errors import BackendUnavailableError, InputError, SourcedNeuronError

__all__ = ["SYNCHRONOUS", "local_client", "resolve_client", "run_tasks", "worker_threads"]

#: ``client=SYNCHRONOUS`` runs every batch in this process, one after the other.
SYNCHRONOUS = "synchronous"

_LOCAL: dict[str, Any] = {}


def local_client(workers: int | None = None):
    """The embedded local Dask cluster's client (made on first use, closed at exit): one worker
    process per core (``SOURCED_NEURON_WORKERS`` or ``workers`` overrides), one thread each."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - a dependency
        raise BackendUnavailableError(
            "sweeps run on Dask, which is not installed: pip install 'dask[distributed]'"
        ) from exc
    count = workers or int(os.environ.get("SOURCED_NEURON_WORKERS") or os.cpu_count() or 1)
    client = _LOCAL.get("client")
    if client is not None and client.status == "running" and _LOCAL.get("workers") == count:
        return client
    close_local()
    cluster = LocalCluster(
        n_workers=count,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",  # any free port: another cluster may hold 8787
        silence_logs=logging.ERROR,
        # a worker's simulator may hold more than Dask's default share of memory for a while
        memory_limit=0,
    )
    client = Client(cluster)
    _LOCAL.update(client=client, cluster=cluster, workers=count)
    return client


def close_local() -> None:
    """Close the embedded local cluster, if one was started."""
    client, cluster = _LOCAL.pop("client", None), _LOCAL.pop("cluster", None)
    _LOCAL.pop("workers", None)
    for thing in (client, cluster):
        if thing is not None:
            try:
                thing.close()
            except Exception:  # noqa: S110 - closing at exit: nothing left to report to
                pass


atexit.register(close_local)


def resolve_client(client: Any):
    """``None`` (the local cluster), ``"synchronous"`` or a ``dask.distributed.Client``; returns
    the client, or ``None`` for synchronous runs.

    Raises
    ------
    InputError
        Anything else, or a client that is closed or has no workers (naming its scheduler).
    """
    if client is None:
        return local_client()
    if client == SYNCHRONOUS:
        return None
    try:
        from dask.distributed import Client
    except ImportError as exc:  # pragma: no cover - a dependency
        raise BackendUnavailableError("Dask is not installed: pip install 'dask[distributed]'") from exc
    if not isinstance(client, Client):
        raise InputError(
            f"client must be a dask.distributed.Client, None (a local cluster) or {SYNCHRONOUS!r}, got "
            f"{type(client).__name__}"
        )
    if client.status != "running":
        raise InputError(f"the Dask client is {client.status}: its cluster is not reachable (connect it again)")
    return client


def worker_threads() -> int | None:
    """Threads of the Dask worker this runs in (``None`` outside a worker)."""
    if "distributed" not in sys.modules:  # not in a worker, and not worth importing to find out
        return None
    try:
        from distributed import get_worker

        return int(get_worker().state.nthreads)
    except (ImportError, ValueError, AttributeError):
        return None


def run_tasks(client, function: Callable, jobs: Iterable[tuple[int, tuple]], retries: int = 0) -> Iterator:
    """Run ``function(*args)`` for each ``(k, args)`` of ``jobs``; yield ``(k, result)`` as each
    finishes, or ``(k, exception)`` for one that failed (after ``retries`` more tries on Dask).

    With ``client=None`` the jobs run here, one after the other, in order; only the library's
    own errors are yielded (anything else is a bug and is raised). On Dask, every job is a task
    (not pure: the same arguments run again when asked), and unfinished ones are cancelled when
    the caller stops iterating.
    """
    if client is None:
        for k, args in jobs:
            try:
                yield k, function(*args)
            except SourcedNeuronError as exc:
                yield k, exc
        return
    from dask.distributed import as_completed

    futures = {}
    for k, args in jobs:
        key = f"sourced-neuron-{getattr(function, '__name__', 'task')}-{k}-{os.urandom(4).hex()}"
        futures[client.submit(function, *args, retries=retries, pure=False, key=key)] = k
    try:
        for future in as_completed(futures):
            k = futures[future]
            try:
                yield k, future.result()
            except Exception as exc:
                yield k, exc
    finally:
        for future in futures:
            future.cancel()
