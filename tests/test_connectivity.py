"""Connection rules and Poisson trains drawn in O(synapses): exact structure, the right laws, bounded memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from scipy import stats

import sourced_neuron as sn
from sourced_neuron.run import connectivity

# The statistical checks use fixed seeds; each p-value bound (1e-4) fails a correct sampler
# once in 10,000 seeds, and a biased one (e.g. a source never chosen) by many orders of magnitude.
P_MIN = 1e-4


def test_bernoulli_positions_follow_the_binomial_law_across_chunks(monkeypatch):
    monkeypatch.setattr(connectivity, "CHUNK", 97)  # many pieces, so their joins are exercised
    rng = np.random.default_rng(3)
    counts = []
    for _ in range(200):
        positions = connectivity.bernoulli_positions(rng, 5_000, 0.07)
        assert np.all(np.diff(positions) > 0) and positions.min() >= 0 and positions.max() < 5_000
        counts.append(len(positions))
    # 200 Binomial(5000, 0.07) counts: mean 350, sd 18 (the mean of 200 has sd 1.3)
    assert abs(np.mean(counts) - 350) < 5 * 18 / np.sqrt(200)
    assert stats.kstest(counts, stats.binom(5_000, 0.07).cdf).pvalue > P_MIN
    assert len(connectivity.bernoulli_positions(rng, 10, 0.0)) == 0
    assert np.array_equal(connectivity.bernoulli_positions(rng, 10, 1.0), np.arange(10))


@pytest.mark.parametrize("exclude_self", [False, True])
def test_fixed_probability_is_independent_per_pair(exclude_self):
    rng = np.random.default_rng(5)
    n_pre, n_post, p = 300, 170, 0.2  # unequal sizes: swapped axes fail
    if exclude_self:
        n_pre = n_post = 200
    i, j = connectivity.fixed_probability(rng, n_pre, n_post, p, exclude_self)
    assert i.dtype == np.int32 and j.dtype == np.int32
    assert i.max() < n_pre and j.max() < n_post
    pairs = i.astype(np.int64) * n_post + j
    assert np.all(np.diff(pairs) > 0)  # distinct, sorted by pre, then post
    if exclude_self:
        assert not np.any(i == j)
    cells = n_pre * (n_post - 1 if exclude_self else n_post)
    assert abs(len(i) - p * cells) < 5 * np.sqrt(cells * p * (1 - p))
    # every target equally likely: the in-degrees are Binomial(n_pre (- 1), p)
    indegree = np.bincount(j, minlength=n_post)
    expected = np.full(n_post, len(i) / n_post)
    assert stats.chisquare(indegree, expected).pvalue > P_MIN


@pytest.mark.parametrize(("k", "exclude_self"), [(7, False), (7, True), (45, False), (58, True)])
def test_fixed_indegree_draws_k_distinct_sources_uniformly(k, exclude_self):
    """k < n/2 draws the sources, k > n/2 the excluded ones: both give uniform subsets."""
    rng = np.random.default_rng(11)
    n_pre, n_post = 60, 4_000
    if exclude_self:
        n_post = n_pre
        reps = 70  # many draws of the same square projection, for the statistics
    else:
        reps = 1
    counts = np.zeros(n_pre)
    for _ in range(reps):
        i, j = connectivity.fixed_indegree(rng, n_pre, n_post, k, exclude_self)
        assert i.dtype == np.int32 and len(i) == n_post * k
        assert np.array_equal(j, np.repeat(np.arange(n_post), k))  # ordered by target
        rows = i.reshape(n_post, k)
        assert np.all(np.diff(rows, axis=1) > 0)  # distinct and sorted per target
        if exclude_self:
            assert not np.any(rows == np.arange(n_post)[:, None])
        counts += np.bincount(i, minlength=n_pre)
    # each source is in a target's subset with probability k / (n_pre (- 1))
    assert stats.chisquare(counts, np.full(n_pre, counts.sum() / n_pre)).pvalue > P_MIN


def test_all_to_all_and_one_to_one():
    i, j = connectivity.all_to_all(3, 4)
    assert list(zip(i, j, strict=True))[:5] == [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0)] and len(i) == 12
    i, j = connectivity.all_to_all(4, 4, exclude_self=True)
    assert len(i) == 12 and not np.any(i == j) and len(set(zip(i, j, strict=True))) == 12


def test_poisson_steps_have_the_rate_and_order():
    rng = np.random.default_rng(2)
    steps, index = connectivity.poisson_steps(rng, 10_000, 50, 0.004)  # 40 Hz at dt 0.1 ms, 1 s
    assert np.all(np.diff(steps * 50 + index) > 0)  # by step, then source
    assert abs(len(steps) - 2_000) < 5 * np.sqrt(2_000)
    assert stats.chisquare(np.bincount(index, minlength=50)).pvalue > P_MIN


def test_drawing_takes_memory_in_proportion_to_synapses():
    """10 million synapses (10,000 targets x 1,000 of 12,000 sources) in under 40 bytes each
    at the peak of drawing: 8 for the int32 indices kept, the rest transient (an int64 draw
    and its sort). A dense 12,000 x 10,000 matrix would take 120 MB of flags alone, 12 bytes per synapse,
    and the float64 random numbers behind it 96 more."""
    rng = np.random.default_rng(0)
    tracemalloc.start()
    i, _ = connectivity.fixed_indegree(rng, 12_000, 10_000, 1_000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(i) == 10_000_000
    assert peak / len(i) < 40, peak / len(i)
    tracemalloc.start()
    i, _ = connectivity.fixed_probability(rng, 12_000, 10_000, 1_000 / 12_000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak / len(i) < 40, peak / len(i)


def test_network_projections_keep_shared_values_as_one_number():
    net = sn.Network(seed=4)
    net.population("a", "lif", 40)
    net.population("b", "lif", 30)
    net.connect("a", "b", "fixed_indegree", indegree=5, weight="20 pA", delay="1.5 ms", receptor="exc")
    net.connect("b", "a", "fixed_probability", p=0.3, weight={"uniform": ["5 pA", "9 pA"]}, receptor="inh")
    first, second = net.spec("10 ms").projections
    assert first.i.dtype == np.int32 and first.weights.strides == (0,) and first.delays.strides == (0,)
    assert np.allclose(first.weights, 20e-12) and np.allclose(first.delays, 1.5e-3)
    assert second.weights.strides != (0,) and np.all((second.weights >= 5e-12) & (second.weights <= 9e-12))
    again = sn.Network(seed=4)
    again.population("a", "lif", 40)
    again.population("b", "lif", 30)
    again.connect("a", "b", "fixed_indegree", indegree=5, weight="20 pA", delay="1.5 ms", receptor="exc")
    assert np.array_equal(again.spec("10 ms").projections[0].i, first.i)  # the seed fixes the network


def test_a_sparse_projection_between_large_populations_is_not_refused_for_its_pairs():
    """10^12 pairs at p = 1e-5: 10^7 synapses, drawn without anything per pair (the memory check
    counts synapses, not pairs)."""
    net = sn.Network(seed=2)
    net.population("a", "lif", 1_000_000)
    n = net.connect("a", "a", "fixed_probability", p=1e-5, weight="1 pA", receptor="exc")
    assert abs(n - 1e7) < 5 * np.sqrt(1e7)
