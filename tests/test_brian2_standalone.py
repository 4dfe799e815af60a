"""Backends ``brian2-cpp`` (and ``brian2-cuda``, skipped without a GPU): the same results as the
runtime backend, and compiled projects reused across parameter values and processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import quantities as pq

import sourced_neuron as sn
from sourced_neuron.backends import backend_status

pytestmark = [pytest.mark.brian2, pytest.mark.slow]


@pytest.fixture(scope="module", autouse=True)
def cpp_available():
    reason = backend_status()["brian2-cpp"]
    if reason:
        pytest.skip(reason)


def _binary(block) -> Path:
    return Path(block.segments[0].annotations["project"]) / "main"


def test_cpp_standalone_matches_runtime_and_reuses_its_binary(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCED_NEURON_CACHE", str(tmp_path))
    runs = {
        current: sn.simulate(
            "izhikevich",
            backend="brian2-cpp",
            preset="ch",
            duration="300 ms",
            stimulus=current,
            n_neurons=2,
            record=("v",),
        )
        for current in ("10 pA", "14 pA")
    }
    first, second = runs["10 pA"], runs["14 pA"]
    # other parameter values (here the current) reuse the compiled program: the same project and
    # an unchanged binary
    assert _binary(first) == _binary(second) and _binary(first).exists()
    assert len(list((tmp_path / "brian2" / "cpp_standalone").glob("*/main"))) == 1
    runtime = sn.simulate("izhikevich", preset="ch", duration="300 ms", stimulus="14 pA", n_neurons=2, record=("v",))
    a, b = runtime.segments[0], second.segments[0]
    assert [len(t) for t in a.spiketrains] == [len(t) for t in b.spiketrains] and len(a.spiketrains[0]) > 5
    for x, y in zip(a.spiketrains, b.spiketrains, strict=True):
        # the same generated step; the C++ compiler (with Brian2's -ffast-math) may round differently
        # than NumPy, which moves no threshold crossing of this model by a step
        np.testing.assert_allclose(x.magnitude, y.magnitude, rtol=0, atol=1e-9)
    np.testing.assert_allclose(a.analogsignals[0].magnitude, b.analogsignals[0].magnitude, rtol=0, atol=1e-6)  # mV
    assert b.annotations["backend"] == "brian2-cpp"


def test_a_second_process_with_other_values_compiles_nothing(tmp_path):
    code = """
import sys, time, sourced_neuron as sn
block = sn.simulate("lif", backend="brian2-cpp", duration="100 ms", stimulus=sys.argv[1], params={"tau_m": sys.argv[2]})
print(block.segments[0].annotations["project"], len(block.segments[0].spiketrains[0]))
"""
    env = {**os.environ, "SOURCED_NEURON_CACHE": str(tmp_path)}
    out = []
    for current, tau in (("200 pA", "10 ms"), ("400 pA", "7 ms")):
        result = subprocess.run(
            [sys.executable, "-c", code, current, tau], env=env, capture_output=True, text=True, check=True, timeout=600
        )
        out.append(result.stdout.split())
        binary = Path(out[-1][0]) / "main"
        if len(out) == 1:
            built = binary.stat().st_mtime_ns
    assert out[0][0] == out[1][0] and binary.stat().st_mtime_ns == built  # not rebuilt
    assert int(out[1][1]) > int(out[0][1]) > 0  # and the new values took effect


def test_brian2_cuda_is_skipped_or_refused_with_its_reason():
    reason = backend_status()["brian2-cuda"]
    if reason is None:
        pytest.skip("a GPU is present: brian2-cuda is exercised by benchmarks/cobahh.py on the device")
    assert "brian2cuda" in reason or "nvcc" in reason or "GPU" in reason
    with pytest.raises(sn.BackendUnavailableError, match="brian2-cuda"):
        sn.simulate("lif", backend="brian2-cuda", duration="10 ms")


def test_network_on_cpp_standalone_matches_runtime():
    sys.path.insert(0, str(Path(__file__).parent))
    from test_network import mixed_network

    runs = {}
    for backend in ("brian2", "brian2-cpp"):
        segment = mixed_network().run("100 ms", backend=backend).segments[0]
        trains = [st.magnitude for st in segment.spiketrains if st.annotations["population"] == "cells"]
        runs[backend] = trains, segment.analogsignals[1].rescale(pq.mV).magnitude
    (a, va), (b, vb) = runs["brian2"], runs["brian2-cpp"]
    assert sum(map(len, a)) > 30
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-9)
    np.testing.assert_allclose(va, vb, rtol=0, atol=1e-9)  # measured: 1e-13 mV
