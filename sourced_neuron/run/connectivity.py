"""Connection rules and Poisson trains drawn in time and memory proportional to what they make.

Every function takes a NumPy ``Generator`` and returns index arrays (int32 where the indices
fit, sorted by presynaptic index, then postsynaptic index). Nothing here builds an
``n_pre x n_post`` array: a network of 10^6 neurons and 10^8 synapses is drawn with about
8 bytes per synapse for the indices, plus a chunk of at most :data:`CHUNK` random numbers.

- Independent choices with probability ``p`` over a grid of ``total`` cells (a synapse per pair
  for ``fixed_probability``, a spike per source and step for Poisson trains) are the gaps of a
  Bernoulli process: geometric draws summed into positions (:func:`bernoulli_positions`).
- ``fixed_indegree`` draws each target's sources with replacement, keeps the distinct ones
  and redraws the rest, for all targets at once; the law of the result does not change when
  the sources are relabelled, so each target gets a uniformly chosen subset. Where ``k`` is more
  than half the sources, the excluded ones are drawn that way instead.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CHUNK",
    "all_to_all",
    "bernoulli_positions",
    "fixed_indegree",
    "fixed_probability",
    "index_dtype",
    "poisson_steps",
]

#: Random numbers drawn at a time (8 bytes each): bounds the memory of drawing beyond its result.
CHUNK = 1 << 22


def index_dtype(n: int) -> type:
    """``int32`` for indices below ``n`` where they fit, else ``int64``."""
    return np.int32 if n <= np.iinfo(np.int32).max else np.int64


def bernoulli_positions(rng: np.random.Generator, total: int, p: float) -> np.ndarray:
    """Sorted positions ``0 <= k < total`` each chosen independently with probability ``p`` (int64)."""
    if p <= 0 or total <= 0:
        return np.zeros(0, np.int64)
    if p >= 1:
        return np.arange(total, dtype=np.int64)
    pieces, last = [], -1
    expected = total * p
    while True:
        size = int(min(CHUNK, max(64, expected + 6 * np.sqrt(expected) + 64)))
        steps = rng.geometric(p, size)  # gaps between successive chosen positions, >= 1
        positions = last + np.cumsum(steps, dtype=np.int64)
        inside = positions[positions < total]
        pieces.append(inside)
        if len(inside) < size:
            break
        last = int(positions[-1])
        expected = (total - last) * p
    return np.concatenate(pieces)


def fixed_probability(
    rng: np.random.Generator, n_pre: int, n_post: int, p: float, exclude_self: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Each pair connected independently with probability ``p`` (no pair ``(k, k)`` with ``exclude_self``)."""
    columns = n_post - 1 if exclude_self else n_post
    positions = bernoulli_positions(rng, n_pre * columns, p)
    dtype = index_dtype(max(n_pre, n_post))
    i = (positions // max(columns, 1)).astype(dtype)
    j = (positions % max(columns, 1)).astype(dtype)
    if exclude_self:
        j += j >= i
    return i, j


def all_to_all(n_pre: int, n_post: int, exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (without ``(k, k)`` with ``exclude_self``), in row order."""
    dtype = index_dtype(max(n_pre, n_post))
    columns = n_post - 1 if exclude_self else n_post
    i = np.repeat(np.arange(n_pre, dtype=dtype), columns)
    j = np.tile(np.arange(columns, dtype=dtype), n_pre)
    if exclude_self:
        j += j >= i
    return i, j


def fixed_indegree(
    rng: np.random.Generator, n_pre: int, n_post: int, k: int, exclude_self: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``k`` distinct sources per target, each subset equally likely; sources sorted per target.

    Returns ``(i, j)`` ordered by target, then source (as NEST and Brian2 list them).
    """
    dtype = index_dtype(max(n_pre, n_post))
    available = n_pre - 1 if exclude_self else n_pre
    if k > available // 2:  # draw the excluded sources: fewer to choose
        excluded = _distinct_rows(rng, n_post, available, available - k)
        keep = np.ones((n_post, available), bool)
        np.put_along_axis(keep, excluded, False, axis=1)
        chosen = np.nonzero(keep)[1].reshape(n_post, k).astype(dtype)
    else:
        chosen = _distinct_rows(rng, n_post, available, k).astype(dtype)
    if exclude_self:
        chosen += chosen >= np.arange(n_post, dtype=dtype)[:, None]
    return chosen.ravel(), np.repeat(np.arange(n_post, dtype=dtype), k)


def _distinct_rows(rng: np.random.Generator, rows: int, n: int, k: int) -> np.ndarray:
    """``(rows, k)`` sorted rows of distinct values ``0 <= v < n``, each subset equally likely (``k <= n/2``)."""
    dtype = index_dtype(n)
    values = np.sort(rng.integers(0, n, (rows, k), dtype=dtype), axis=1)
    while k:
        repeated = np.zeros_like(values, dtype=bool)
        repeated[:, 1:] = values[:, 1:] == values[:, :-1]
        count = int(repeated.sum())
        if not count:
            break
        values[repeated] = rng.integers(0, n, count, dtype=dtype)
        values.sort(axis=1)
    return values


def poisson_steps(
    rng: np.random.Generator, n_steps: int, size: int, probability: float
) -> tuple[np.ndarray, np.ndarray]:
    """Steps and source indices of independent Bernoulli trains: each source fires in each of
    ``n_steps`` steps with ``probability``. Ordered by step, then source."""
    positions = bernoulli_positions(rng, n_steps * size, probability)
    return positions // size, (positions % size).astype(index_dtype(size))
