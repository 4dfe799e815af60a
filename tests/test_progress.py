"""Progress bars: shown on a terminal or when asked, silent otherwise, and never changing a result."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import sourced_neuron as sn
from sourced_neuron.backends import backend_status
from sourced_neuron.cli import main as cli
from sourced_neuron.common import progress


def test_when_a_bar_is_shown(monkeypatch):
    monkeypatch.delenv(progress.ENVIRONMENT, raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert progress.enabled() and progress.enabled(True) and not progress.enabled(False)
    with progress.quiet():
        assert not progress.enabled() and progress.enabled(True)
    assert progress.enabled()
    monkeypatch.setenv(progress.ENVIRONMENT, "0")
    assert not progress.enabled() and progress.enabled(True)
    monkeypatch.delenv(progress.ENVIRONMENT)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert not progress.enabled()  # a file, a pipe, a CI log


def test_a_disabled_bar_does_nothing(capsys):
    with progress.Progress(1.0, "run", False) as bar:
        bar.advance_to(0.5)
        bar.phase("compiling")
        assert not bar.active
    assert list(progress.iterate([3, 1, 2], "items", False)) == [3, 1, 2]
    assert capsys.readouterr().err == ""


def test_a_bar_counts_simulated_milliseconds(capsys):
    with progress.Progress(0.25, "run", True) as bar:
        bar.advance_to(0.1)
        assert bar._bar.n == 100
        bar.advance_to(0.3)  # past the end: clipped
        assert bar._bar.n == 250
    assert list(progress.iterate("ab", "letters", True)) == ["a", "b"]
    assert "ms simulated" in capsys.readouterr().err


@pytest.mark.parametrize(
    "backend",
    [
        pytest.param("brian2", marks=pytest.mark.brian2),
        pytest.param("nest", marks=pytest.mark.nest),
    ],
)
def test_runs_with_a_bar_give_the_same_result(capsys, backend):
    reason = backend_status()[backend]
    if reason:
        pytest.skip(reason)
    # NEST runs in ~100 pieces when a bar is shown; the result must not change by one bit
    quiet = sn.simulate("lif", backend=backend, duration="300 ms", stimulus="300 pA", progress=False)
    assert capsys.readouterr().err == ""
    shown = sn.simulate("lif", backend=backend, duration="300 ms", stimulus="300 pA", progress=True)
    assert f"lif on {backend}" in capsys.readouterr().err
    a, b = quiet.segments[0], shown.segments[0]
    np.testing.assert_array_equal(a.spiketrains[0].magnitude, b.spiketrains[0].magnitude)
    np.testing.assert_array_equal(a.analogsignals[0].magnitude, b.analogsignals[0].magnitude)
    assert len(a.spiketrains[0]) > 5


def test_the_command_line_quiet_flag(capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert cli.main(["--quiet", "simulate", "lif", "--duration", "50 ms", "--current", "300 pA"]) == 0
    assert "ms simulated" not in capsys.readouterr().err
    assert cli.main(["simulate", "lif", "--duration", "50 ms", "--current", "300 pA"]) == 0
    assert "lif on brian2" in capsys.readouterr().err  # the same run shows a bar on a terminal
