"""Shared test setup.

Brian2's runtime tests use the NumPy code generation target unless the environment says
otherwise: Cython compiles every new model variant (about 20 s each on two cores), which
would dominate the suite. One test (marked slow) runs the Cython target on purpose.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

os.environ.setdefault("SOURCED_NEURON_BRIAN2_TARGET", "numpy")

HAS_BRIAN2 = importlib.util.find_spec("brian2") is not None

requires_brian2 = pytest.mark.skipif(not HAS_BRIAN2, reason="Brian2 is not installed (pip install brian2==2.10.1)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "brian2" in item.keywords and not HAS_BRIAN2:
            item.add_marker(requires_brian2)


@pytest.fixture
def backend(request, monkeypatch):
    """For tests parametrised (indirectly) with ``(backend, Brian2 code generation target)``: the
    backend's name, skipped with the reason where it cannot run; sets the Brian2 target."""
    from sourced_neuron import backend_status

    name, target = request.param
    reason = backend_status()[name]
    if reason:
        pytest.skip(reason)
    if target is not None:
        monkeypatch.setenv("SOURCED_NEURON_BRIAN2_TARGET", target)
    return name


LIF_TEXT = """\
name: lif
description: Leaky integrate-and-fire neuron with absolute refractoriness.
references: ["Gerstner & Kistler (2002) Spiking Neuron Models"]
equations: |
  dv/dt = (E_L - v + R_m*I_ext)/tau_m : volt (unless refractory)
threshold: v > V_th
reset: v = V_reset
refractory: t_ref
parameters:
  E_L: -65 mV
  V_th: -50 mV
  V_reset: -65 mV
  tau_m: 10 ms
  R_m: 100 Mohm
  t_ref: 2 ms
initial:
  v: E_L
numerics:
  method: exact
  dt: 0.1 ms
"""


@pytest.fixture
def lif_text() -> str:
    """The minimal example of the model format (model-format.md)."""
    return LIF_TEXT
