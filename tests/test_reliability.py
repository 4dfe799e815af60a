"""Reliability and security regressions: data files never run code, writes never destroy what
they replace, bad values never escape as foreign exceptions, runs that cannot fit are refused
before they start. Each test names the case it guards."""

from __future__ import annotations

import errno
import os
import pickle
import stat
import subprocess
import sys
from pathlib import Path

import neo
import numpy as np
import pytest
import quantities as pq

import sourced_neuron as sn
from sourced_neuron.backends import Capabilities, check_backend_grid
from sourced_neuron.cli import main as cli
from sourced_neuron.common import files, resources
from sourced_neuron.common.errors import StorageError
from sourced_neuron.results import io
from sourced_neuron.run import simulation
from sourced_neuron.spec import library

pytestmark = pytest.mark.brian2


def run_cli(*args: str, env: dict | None = None, shell: str | None = None, cwd: Path | None = None):
    command = shell or [sys.executable, "-m", "sourced_neuron", *args]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        shell=shell is not None,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def small_block():
    return sn.simulate("lif", duration="20 ms", stimulus="300 pA", n_neurons=2, progress=False)


# --- 1. data files never run code -------------------------------------------------------------


class _Payload:
    """Unpickling this creates the marker file: the proof that a pickle ran code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickle_files_are_not_read_unless_asked(tmp_path, small_block):
    marker = tmp_path / "ran"
    crafted = tmp_path / "crafted.pkl"
    crafted.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(sn.InputError, match="allow_pickle=True"):
        io.read_block(crafted)
    with pytest.raises(sn.InputError, match="runs whatever code it holds"):
        io.read_spike_trains(crafted)
    with pytest.raises(sn.InputError, match="allow_pickle"):
        sn.Network().replay("again", crafted)
    for command in (["analyze", str(crafted), "--no-figures"], ["plot", str(crafted), "--kind", "raster"]):
        assert cli.main(command) == 2
    assert not marker.exists()
    # a trusted pickle is read when asked
    trusted = io.write_block(small_block, tmp_path / "run.pkl")
    again = io.read_block(trusted, allow_pickle=True)
    assert len(again.segments[0].spiketrains) == 2
    assert cli.main(["analyze", str(trusted), "--allow-pickle", "--no-figures", "--json", "-"]) == 0


def test_nix_and_nwb_files_are_sealed_and_a_damaged_file_is_refused(tmp_path, small_block):
    for suffix in (".nix", ".nwb"):
        path = io.write_block(small_block, tmp_path / f"run{suffix}")
        data = bytearray(path.read_bytes())
        io.read_block(path)  # intact
        # the issue's case: random bytes in the middle of the file, where the data are
        rng = np.random.default_rng(7)
        middle = len(data) // 2
        data[middle : middle + 4000] = rng.bytes(4000)
        damaged = tmp_path / f"damaged{suffix}"
        damaged.write_bytes(bytes(data))
        with pytest.raises(sn.InputError, match="damaged"):
            io.read_block(damaged)
        assert cli.main(["analyze", str(damaged), "--no-figures"]) == 2


def test_values_that_cannot_come_from_a_run_are_refused(tmp_path):
    block = neo.Block()
    segment = neo.Segment()
    block.segments.append(segment)
    segment.analogsignals.append(
        neo.AnalogSignal(np.array([[1.0], [np.nan]]), units="mV", sampling_period=1 * pq.ms, name="v")
    )
    segment.spiketrains.append(neo.SpikeTrain([1.0, 3.0] * pq.ms, t_stop=5 * pq.ms))
    path = io.write_block(block, tmp_path / "nan.nix")
    with pytest.raises(sn.InputError, match=r"not finite numbers.*check=False"):
        io.read_block(path)
    assert np.isnan(io.read_block(path, check=False).segments[0].analogsignals[0][1, 0])
    train = neo.SpikeTrain([1.0, 3.0] * pq.ms, t_stop=5 * pq.ms)
    train.magnitude[:] = [3.0, 1.0]
    unordered = neo.Block()
    unordered.segments.append(neo.Segment())
    unordered.segments[0].spiketrains.append(train)
    with pytest.raises(sn.InputError, match="out of order"):
        io.check_block(unordered)


def test_csv_spike_tables_are_read_safely(tmp_path):
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"population,neuron,time_ms\n\xff\xfe,1,2\n")
    with pytest.raises(sn.InputError, match="not a CSV spike table"):
        io.read_spike_csv(binary)
    huge = tmp_path / "huge.csv"
    huge.write_text("population,neuron,time_ms\nE,999999999999,1.0\n")
    with pytest.raises(sn.InputError, match="beyond the 10,000,000 neurons"):
        io.read_spike_csv(huge)


# --- 2. writes that destroy or leak --------------------------------------------------------------


def test_a_link_is_written_through_and_stays_a_link(tmp_path, small_block):
    target = tmp_path / "real.nix"
    link = tmp_path / "link.nix"
    link.symlink_to(target)
    io.write_block(small_block, link)
    assert link.is_symlink() and target.is_file()
    assert len(io.read_block(link).segments[0].spiketrains) == 2


def test_devices_fifos_and_folders_are_refused_before_writing(tmp_path):
    fifo = tmp_path / "pipe.nix"
    os.mkfifo(fifo)
    (tmp_path / "folder.nix").mkdir()
    for path, kind in ((fifo, "FIFO"), (tmp_path / "folder.nix", "folder"), (Path("/dev/null"), "device")):
        with pytest.raises(sn.InputError, match=kind):
            files.check_output(path, "--out")
    with pytest.raises(sn.InputError, match="FIFO"):
        io.write_block(neo.Block(), fifo)
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # still the FIFO it was
    with pytest.raises(sn.InputError, match="null byte"):
        files.check_output("bad\x00name.nix", "--out")


def test_an_overwritten_file_keeps_its_mode_and_a_new_one_follows_the_umask(tmp_path):
    existing = tmp_path / "kept.txt"
    existing.write_text("old")
    existing.chmod(0o640)
    files.write_text(existing, "new")
    assert existing.read_text() == "new" and stat.S_IMODE(existing.stat().st_mode) == 0o640
    previous = os.umask(0o027)
    try:
        created = files.write_text(tmp_path / "new.txt", "x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(created.stat().st_mode) == 0o640  # 0o666 & ~0o027


def test_temporary_files_of_killed_writers_are_removed_by_the_next_write(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    pid = int(dead.stdout)  # a process that has exited
    stale = tmp_path / f".run.txt.{pid}-abc123.part.txt"
    stale.write_bytes(b"x" * 1000)
    mine = tmp_path / f".run.txt.{os.getpid()}-zzz999.part.txt"  # a live writer's: kept
    mine.write_bytes(b"y")
    files.write_text(tmp_path / "run.txt", "done")
    assert not stale.exists() and mine.exists()


def test_a_full_disk_is_one_paragraph_naming_the_users_path(tmp_path, monkeypatch, small_block):
    target = tmp_path / "run.nwb"
    monkeypatch.setattr(files, "free_bytes", lambda folder: 10_000)
    with pytest.raises(StorageError, match=r"run.nwb': it needs about .* MB and .* has 0.0 MB free"):
        io.write_block(small_block, target)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(neo.io.PickleIO, "write_block", full)
    with pytest.raises(StorageError) as caught:
        io.write_block(small_block, tmp_path / "run.pkl")
    assert "run.pkl" in str(caught.value) and ".part" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_a_file_size_limit_ends_a_write_with_a_message_not_a_crash(tmp_path):
    """A process whose file-size limit stops the write (as a full disk does) reports it and exits 2."""
    script = (
        "import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        "resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000)); "
        "from sourced_neuron.cli.main import main; "
        f"sys.exit(main(['simulate', 'lif', '--duration', '500 ms', '--n-neurons', '20', "
        f"'--out', {str(tmp_path / 'run.nwb')!r}]))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 2, result.stderr
    assert "no space left" in result.stderr and "Traceback" not in result.stderr
    assert not list(tmp_path.iterdir())


def test_output_paths_are_checked_before_the_simulation(tmp_path, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the simulation ran although its output path is bad")

    monkeypatch.setattr(simulation, "simulate", never)
    (tmp_path / "folder.nix").mkdir()
    cases = [
        ["simulate", "lif", "--out", str(tmp_path / "folder.nix")],
        ["simulate", "lif", "--out", str(tmp_path / "run.txt")],
        ["simulate", "lif", "--plot", str(tmp_path / "run.docx")],
    ]
    file = tmp_path / "file"
    file.write_text("")
    cases.append(["simulate", "lif", "--out", str(file / "run.nix")])
    for args in cases:
        assert cli.main(args) == 2, args
    assert cli.main(["card", "lif", "--out", str(file)]) == 2
    assert cli.main(["export", "lif", "--to", "brian2", "-o", str(tmp_path / "folder.nix")]) == 2


# --- 3. silently wrong results -----------------------------------------------------------------


def test_step_count_and_dt_limits_are_refused_before_building():
    with pytest.raises(sn.InputError, match="at most 1,000,000,000 steps"):
        sn.simulate("lif", duration="1e7 s", dt="1e-9 s")
    with pytest.raises(sn.UnitError, match="from 1 ns to 1 s"):
        sn.simulate("lif", dt="1e-300 s", duration="20 ms")
    with pytest.raises(sn.InputError, match="at most"):
        sn.simulate("lif", duration="1e308 s")
    with pytest.raises(sn.ModelError, match="from 1 ns to 1 s"):
        sn.NeuronModel.from_yaml(sn.load_model("lif").to_yaml().replace("dt: 0.1 ms", "dt: 1e-320 ms"))


def test_a_dt_off_nests_tic_is_refused_with_the_reason():
    nest_like = Capabilities(methods=frozenset({"exact"}), time_tic=1e-6)  # NEST's default tic: 0.001 ms
    for dt in (0.1234e-3, 0.0005e-3):
        with pytest.raises(sn.UnsupportedFeatureError, match="NEST's tic"):
            check_backend_grid(nest_like, dt, "nest")
    check_backend_grid(nest_like, 0.1e-3, "nest")  # 100 tics
    check_backend_grid(nest_like, 0.025e-3, "nest")


def test_parameter_bounds_are_checked_at_load_and_on_every_override():
    lif = sn.load_model("lif")
    for params, rule in (
        ({"tau_m": "-10 ms"}, "above 0 ms"),
        ({"tau_m": "0 ms"}, "above"),
        ({"t_ref": "-2 ms"}, "at least"),
    ):
        with pytest.raises(sn.InputError, match=rule):
            sn.simulate(lif, params=params, duration="5 ms")
    net = sn.Network(seed=3)
    with pytest.raises(sn.InputError, match="population 'E': parameter 'tau_m' must be above"):
        net.population("E", "lif", 3, params={"tau_m": ["10 ms", "-1 ms", "5 ms"]})
    net.population("F", "lif", 3, params={"tau_m": {"uniform": ["-5 ms", "1 ms"]}})
    with pytest.raises(sn.InputError, match="must be above"):
        net.run("5 ms")
    text = lif.to_yaml()
    assert "tau_m:\n    value: 10 ms\n    above: 0 ms" in text and sn.NeuronModel.from_yaml(text) == lif
    bad_preset = text + "presets:\n  slow:\n    tau_m: -1 ms\n"
    with pytest.raises(sn.ModelError, match=r"presets.slow.tau_m\]: preset 'slow': tau_m = '-1 ms' must be above"):
        sn.NeuronModel.from_yaml(bad_preset)
    with pytest.raises(sn.ModelError, match="unknown key 'maximum'"):
        sn.NeuronModel.from_yaml(text.replace("above: 0 ms", "maximum: 0 ms"))
    with pytest.raises(sn.ModelError, match="units of volt"):
        sn.NeuronModel.from_yaml(text.replace("above: 0 ms", "above: 0 mV"))
    for name in sn.library_models():  # every library time constant, capacitance and width is bounded
        model = sn.load_model(name)
        for parameter in model.parameter_names:
            if parameter.startswith("tau") or parameter in ("C_m", "Delta_T", "k", "A_m"):
                assert parameter in dict(model.bounds), (name, parameter)


# --- 4. inputs that escape as foreign exceptions --------------------------------------------------


LIF = """name: lif
equations: |
  dv/dt = (E_L - v + R_m*I_ext)/tau_m : volt (unless refractory)
threshold: v > V_th
reset: v = V_reset
refractory: t_ref
parameters: {E_L: -65 mV, V_th: -50 mV, V_reset: -65 mV, tau_m: 10 ms, R_m: 100 Mohm, t_ref: 2 ms}
initial: {v: INIT}
presets: {p: {E_L: 'PRESET'}}
numerics: {method: exact, dt: 0.1 ms}
"""


@pytest.mark.parametrize(
    ("init", "preset", "message"),
    [
        ("E_L", "-65> mV", "1 \\(dimensionless\\) and volt do not match"),
        ("E_L", "(-1)**0.5*mV", "is not a real number"),
        ("E_L + 1/0*mV", "-60 mV", "divides by zero"),
        ("E_L*(-1)**0.5", "-60 mV", "is not a real number"),
        ("E_L*10**400/10**400", "-60 mV", "is too large"),
        ("E_L*exp(tau_m/us)", "-60 mV", "initial.v\\]: initial value of 'v', 'E_L\\*exp\\(tau_m/us\\)', is too large"),
    ],
)
def test_the_checker_refuses_what_would_crash_later(init, preset, message):
    with pytest.raises(sn.ModelError, match=message):
        sn.NeuronModel.from_yaml(LIF.replace("INIT", init).replace("PRESET", preset))


def test_what_the_checker_accepts_simulates_and_exports():
    # underflow to a tiny number is a correct value, not an error
    model = sn.NeuronModel.from_yaml(LIF.replace("INIT", "E_L + 1e-320*mV").replace("PRESET", "-60 mV"))
    sn.simulate(model, duration="2 ms", progress=False)
    for target in ("brian2", "nestml"):
        sn.export(model, target)
    for term in ("2**1024*0*mV", "2**-1074*mV", "v/(0*mV)*mV"):
        text = LIF.replace("(E_L - v + R_m*I_ext)", f"(E_L - v + R_m*I_ext + {term})").replace("INIT", "E_L")
        with pytest.raises(sn.ModelError, match=r"too large|overflows|divides by zero"):
            sn.NeuronModel.from_yaml(text.replace("PRESET", "-60 mV"))


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"stimulus": 10 * pq.mV}, "stimulus must have units of amp"),
        ({"stimulus": neo.AnalogSignal([1, 2] * pq.mV, sampling_period=1 * pq.ms)}, "units of amp"),
        ({"params": {"tau_m": 10 * pq.mV}}, "units of second"),
        ({"params": {"tau_m": ["1 ms", "2 ms"]}}, "one value"),
        ({"params": {"tau_m": None}}, "got NoneType"),
        ({"params": 5}, "params must be a mapping"),
        ({"record": 5}, "record must be a name"),
        ({"record": [5]}, "record must hold names"),
        ({"duration": ["1 s"]}, "expected one value"),
        ({"duration": "1e308 s"}, "at most"),
        ({"dt": ["0.1 ms"]}, "expected one value"),
        ({"seed": 2**70}, "seed must be from 0 to"),
        ({"preset": ["a"]}, "preset must be"),
        ({"model": None}, "model must be a library model name"),
        ({"model": "a\x00b"}, "null byte"),
        ({"backend": ["brian2"]}, "backend must be"),
        ({"progress": "yes"}, "progress must be True, False or None"),
        ({"check_finite": "no"}, "check_finite must be True or False"),
        ({"stimulus": {"samples": [[["1 pA"]]], "sampling_period": "1 ms"}}, "must have shape"),
        ({"stimulus": {"samples": [["1 pA"], "1 pA"], "sampling_period": "1 ms"}}, "flat or rectangular"),
    ],
)
def test_wrong_arguments_are_the_librarys_errors(arguments, error):
    arguments = {"model": "lif", "duration": "5 ms", **arguments}
    with pytest.raises(sn.SourcedNeuronError, match=error):
        sn.simulate(arguments.pop("model"), **arguments)


def test_a_sampled_current_finer_than_dt_is_read_on_the_step_grid():
    block = sn.simulate(
        "lif",
        duration="1 ms",
        record="I_ext",
        stimulus={"samples": ["2 pA", "3 pA", "4 pA"], "sampling_period": "1e-30 s"},
        progress=False,
    )
    current = block.segments[0].analogsignals[0].rescale(pq.pA).magnitude[:3, 0]
    assert list(current) == [2.0, 0.0, 0.0]  # the first sample, then the samples are over


def test_network_arguments_are_the_librarys_errors():
    def net():
        network = sn.Network(seed=1)
        network.population("E", "lif", 3)
        network.poisson("P", 2, "10 Hz")
        return network

    cases = [
        (
            lambda n: n.connect("P", "E", "fixed_probability", p="x", weight="1 pA", receptor="exc"),
            "number from 0 to 1",
        ),
        (lambda n: n.connect("P", "E", "fixed_indegree", indegree=1.5, weight="1 pA", receptor="exc"), "whole number"),
        (lambda n: n.connect("P", "E", "list", pairs=[[0.5, 1]], weight="1 pA", receptor="exc"), "whole-number"),
        (
            lambda n: n.connect("P", "E", "list", pairs="x", weight="1 pA", receptor="exc"),
            "sequence of \\(pre, post\\)",
        ),
        (lambda n: n.connect(["P"], "E", weight="1 pA", receptor="exc"), "pre must be a name"),
        (lambda n: n.connect("P", "E", weight="1 pA", receptor="exc", autapses="no"), "autapses must be True"),
        (lambda n: n.record("E", 5), "must be a name or a sequence"),
        (lambda n: n.record("E", None), "name what to record"),
        (lambda n: n.poisson("Q", 2, "10 Hz", stop=["1 ms"]), "expected one value"),
        (lambda n: n.poisson("Q", 2, "1e300 Hz"), "more than one spike per time step"),
        (
            lambda n: n.population("F", "lif", 2, params={"tau_m": {"lognormal": ["10 ms", "1 ms"]}}) and n.run("1 ms"),
            "dimensionless",
        ),
    ]
    for call, message in cases:
        with pytest.raises(sn.SourcedNeuronError, match=message):
            call(net())


def test_a_connection_too_large_for_memory_is_refused_with_the_number():
    net = sn.Network()
    net.population("E", "lif", 200_000)
    with pytest.raises(sn.InputError, match=r"4e\+10 synapses\) needs about .* TB of memory and this machine has"):
        net.connect("E", "E", "all_to_all", weight="1 pA", receptor="exc")


def test_a_recording_too_large_for_memory_is_refused_before_the_run(monkeypatch):
    monkeypatch.setattr(resources, "available_memory", lambda: 1_000_000)
    with pytest.raises(sn.InputError, match="recording v of 100 neuron\\(s\\) for 10,000 steps needs about 24"):
        sn.simulate("lif", duration="1 s", n_neurons=100)


def test_model_files_are_read_as_regular_files_with_a_cap(tmp_path):
    fifo = tmp_path / "model.yaml"
    os.mkfifo(fifo)
    result = run_cli("check", str(fifo))  # a FIFO would block a plain read forever
    assert result.returncode == 1 and "FIFO" in result.stdout
    with pytest.raises(sn.ModelError, match="is a device"):
        sn.load_model("/dev/zero")
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * 2_000_000)
    with pytest.raises(sn.ModelError, match="larger than 1,000,000 bytes"):
        sn.load_model(big)


def test_errors_do_not_quote_files_that_are_not_model_files(tmp_path):
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$salt$hashOfAPassword:19000:0:99999:7:::\ndaemon:*:19000:0:s3cr3t:7:::\n")
    result = run_cli("show", str(secret))
    assert result.returncode == 1
    assert "this is not a model file: none of its 2 top-level keys is a model key" in result.stderr
    assert "hashOfAPassword" not in result.stderr and "s3cr3t" not in result.stderr


def test_a_closed_pipe_ends_the_command_quietly():
    result = run_cli(shell=f"{sys.executable} -m sourced_neuron models | head -c 1")
    assert result.stderr == ""


def test_the_users_excepthook_and_warnings_are_left_alone(tmp_path):
    script = (
        "import sys; hook = sys.excepthook; import sourced_neuron; assert sys.excepthook is hook; "
        "raise ValueError('mine')"
    )
    result = run_cli(shell=f'{sys.executable} -c "{script}"', env={"TMPDIR": str(tmp_path)})
    assert "ValueError: mine" in result.stderr and "Brian 2" not in result.stderr
    assert not list(tmp_path.glob("brian_debug_*.log"))
    result = run_cli(shell=f"{sys.executable} -c \"import sourced_neuron, warnings; warnings.warn('plain')\"")
    assert "UserWarning: plain" in result.stderr and "py.warnings" not in result.stderr


def test_debug_shows_the_traceback_of_every_error():
    quiet = run_cli("simulate", "lif", "--duration", "x")
    assert quiet.returncode == 2 and "Traceback" not in quiet.stderr
    loud = run_cli("simulate", "lif", "--duration", "x", env={"SOURCED_NEURON_DEBUG": "1"})
    assert loud.returncode == 2 and "Traceback" in loud.stderr and "UnitError" in loud.stderr


def test_an_internal_error_is_called_one(monkeypatch, capsys):
    def bug():
        raise KeyError("oops")

    monkeypatch.setattr(library, "library_models", bug)
    assert cli.main(["models"]) == 3
    assert "internal error (KeyError: 'oops'): a bug of sourced_neuron" in capsys.readouterr().err


def test_memory_and_byte_formats():
    assert resources.format_bytes(5.12e12) == "5.12 TB" and resources.format_bytes(999) == "999 bytes"
    assert resources.available_memory() is None or resources.available_memory() > 0
