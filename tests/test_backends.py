"""The backend and export-target registries (backend-independent)."""

from __future__ import annotations

import pytest

import sourced_neuron as sn
from sourced_neuron import backends
from sourced_neuron.backends.brian2_runtime import Brian2Runtime


def test_status_lists_every_backend_of_the_format():
    status = sn.backend_status()
    assert set(status) == {"brian2", "brian2-cpp", "brian2-cuda", "nest"}
    # no GPU in CI: brian2-cuda says what is missing (brian2cuda, nvcc or the driver)
    assert status["brian2-cuda"] is None or any(w in status["brian2-cuda"] for w in ("brian2cuda", "nvcc", "GPU"))


def test_missing_simulator_gives_a_message_with_the_install_command(monkeypatch):
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None if name == "brian2" else object())
    with pytest.raises(
        sn.BackendUnavailableError,
        match=r"backend 'brian2' is not available: Brian2 is not "
        r"installed \(pip install 'brian2==2.10.1'\)",
    ):
        backends.get_backend("brian2")


def test_capabilities_are_declared():
    capabilities = Brian2Runtime.capabilities()
    assert {"exact", "exponential_euler", "euler", "rk2", "rk4"} <= capabilities.methods
    assert capabilities.stimuli == {"none", "constant", "step", "sampled"}
    assert not capabilities.gpu


def test_method_outside_the_capabilities_is_refused_before_running(monkeypatch):
    monkeypatch.setattr(
        Brian2Runtime, "capabilities", classmethod(lambda cls: backends.Capabilities(methods=frozenset({"euler"})))
    )
    with pytest.raises(
        sn.UnsupportedFeatureError,
        match=r"backend 'brian2' cannot integrate model 'lif' with "
        r"method 'exact' here \(it can: euler\)",
    ):
        sn.simulate("lif", duration="1 ms")


def test_codegen_target_variable_is_checked(monkeypatch):
    monkeypatch.setenv("SOURCED_NEURON_BRIAN2_TARGET", "fortran")
    with pytest.raises(sn.SimulationError, match="SOURCED_NEURON_BRIAN2_TARGET='fortran': use 'numpy' or 'cython'"):
        sn.simulate("lif", duration="1 ms")


def test_missing_toolchain_pieces_are_named_with_their_installer(monkeypatch):
    from sourced_neuron.backends import nestbuild

    monkeypatch.setattr(nestbuild.shutil, "which", lambda command: None if command == "g++" else "/usr/bin/x")
    real_exists = nestbuild.Path.exists
    monkeypatch.setattr(nestbuild.Path, "exists", lambda self: False if self.name == "ltdl.h" else real_exists(self))
    with pytest.raises(nestbuild.ToolchainError) as info:
        nestbuild.check_toolchain()
    message = str(info.value)
    assert "the command 'g++' (apt-get install g++)" in message
    assert "the header ltdl.h (apt-get install libltdl-dev)" in message
    assert sn.backend_status()["nest"] is not None  # and the backend says so instead of failing later
