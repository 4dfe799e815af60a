"""Compiling generated NESTML into NEST extension modules, with a content-addressed cache.

The cache key hashes the generated NESTML (without parameter values, which are set at run
time), the target, the build options and the versions of nestml, NEST and the compiler; the
module name derives from the key. A build happens in a work folder and is renamed into place
only when complete, with the SHA-256 digest of every file, under a file lock, so concurrent
processes build a key once and a failed or half-written build is never used; a cached module
is loaded only when its files match their digests (a damaged one is rebuilt, with a
:class:`~sourced_neuron.common.cache.CacheWarning`). The build runs in a process group of its own that
dies with the process that started it, and a build killed anyway leaves a work folder that the
next build (or ``sourced-neuron cache clear``) removes. The cache lives in
``$SOURCED_NEURON_CACHE`` or the user's cache folder (``$XDG_CACHE_HOME/sourced_neuron``, default
``~/.cache/sourced_neuron``); see :mod:`sourced_neuron.common.cache` for its layout.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from sourced_neuron.common import cache
from sourced_neuron.common.cache import cache_root, clear_cache
from sourced_neuron.common.errors import BackendUnavailableError, SimulationError

__all__ = [
    "BuiltModule",
    "ToolchainError",
    "build_module",
    "cache_entries",
    "cache_root",
    "check_toolchain",
    "clear_cache",
]

#: ``solver: numeric``: ODEs (only generated for ``rkf45``) always go to GSL's rkf45, never to
#: NESTML's exact propagators, so that the method is the one the model asks for.
#: ``float_digits``: NESTML prints number literals with 9 significant digits by default
#: (``ConstantPrinter.n_float_digits``); 17 keeps every double of the printed step exact.
BUILD_OPTIONS = {
    "target": "nest",
    "cxx_abi": "_GLIBCXX_USE_CXX11_ABI=0",
    "solver": "numeric",
    "float_digits": 17,
    "patches": "spike-flag-1",
}

#: Edits of the C++ that NESTML 9.0 generates for a neuron, made before it is compiled: regular
#: expressions and their replacements, applied to every file with an ``onReceive`` block (the
#: last edit's pattern) and refused (the build fails, naming the edit) where one of the others
#: does not match. NESTML keeps, per spike
#: input port, a second ring buffer that flags the steps in which spikes arrived and runs the
#: port's ``onReceive`` block only then: every arriving spike costs two ring-buffer writes
#: (NEST's own models: one), about 30 % of a spike-driven network's run (docs/benchmarks.md).
#: The ``onReceive`` blocks generated here add a multiple of the step's summed weight to a state
#: variable, so a step whose weights sum to zero changes nothing: the edits run the block when
#: the sum is non-zero and drop the flag buffer's writes and reads.
CPP_PATCHES = (
    (  # handle(SpikeEvent): no second write per spike
        r"\n *B_\.spike_input_received_\[ nestml_buffer_idx - MIN_SPIKE_RECEPTOR \]\.add_value\(\n"
        r" *e\.get_rel_delivery_steps\( nest::kernel\(\)\.simulation_manager\.get_slice_origin\(\) \),\n *1\. \);",
        "",
    ),
    (  # update: no read of the flags
        r"\n *get_spike_input_received_grid_sum_\(\)\[i\] = get_spike_input_received_\(\)\[i\]\.get_value\(lag\);",
        "",
    ),
    (  # onReceive when this step's spikes carry a non-zero summed weight
        r"if \(B_\.spike_input_received_grid_sum_\[(\w+) - MIN_SPIKE_RECEPTOR\]\)",
        r"if (B_.spike_inputs_grid_sum_[\1 - MIN_SPIKE_RECEPTOR] != 0.)",
    ),
)

#: Headers the generated modules need, with the Debian package that provides each.
HEADERS = {
    "boost/type_index.hpp": "libboost-dev",
    "ltdl.h": "libltdl-dev",
    "gsl/gsl_odeiv2.h": "libgsl-dev",
}
COMMANDS = {"g++": "g++", "cmake": "cmake", "make": "make"}
INCLUDE_FOLDERS = ("/usr/include", "/usr/local/include")


class ToolchainError(BackendUnavailableError):
    """A piece needed to compile NESTML models is missing (the message names it and its installer)."""


class BuildError(SimulationError):
    """NESTML code generation or compilation failed (the message shows an excerpt and the log)."""


@dataclass(frozen=True)
class BuiltModule:
    """A compiled NEST extension module in the cache."""

    key: str
    module_name: str
    path: Path
    models: tuple[str, ...]

    @property
    def library(self) -> Path:
        """The shared library to pass to ``nest.Install``."""
        return self.path / f"{self.module_name}.so"


def _nest_folder() -> Path | None:
    spec = importlib.util.find_spec("nest")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def check_toolchain() -> None:
    """Raise :class:`ToolchainError` naming every missing piece and how to install it."""
    missing = []
    if _nest_folder() is None:
        missing.append("the NEST simulator Python package (pip install nest-simulator)")
    if importlib.util.find_spec("pynestml") is None:
        missing.append("NESTML (pip install nestml)")
    for command, package in COMMANDS.items():
        if shutil.which(command) is None:
            missing.append(f"the command {command!r} (apt-get install {package})")
    for header, package in HEADERS.items():
        if not any(Path(folder, header).exists() for folder in INCLUDE_FOLDERS):
            missing.append(f"the header {header} (apt-get install {package})")
    if missing:
        raise ToolchainError("cannot compile NESTML models for NEST; missing: " + "; ".join(missing))


def _compiler_version() -> str:
    try:
        out = subprocess.run(
            [shutil.which("g++") or "g++", "--version"], capture_output=True, text=True, check=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ToolchainError(f"cannot run g++ ({exc}); apt-get install g++") from None
    return out.stdout.splitlines()[0] if out.stdout else "unknown"


@functools.lru_cache(maxsize=1)
def nest_build() -> dict[str, object]:
    """How the installed NEST kernel was built, read from its symbols (``nm -D``) without
    importing NEST: ``abi`` (``"old"``, the PyPI wheel's, or ``"cxx11"``, a build from source
    with a current compiler), which generated modules must match, and ``mpi`` (whether it calls
    MPI: a build by tools/build_nest_mpi.sh)."""
    folder = _nest_folder()
    kernel = next(iter(sorted(folder.glob("nestkernel_api*.so"))), None) if folder else None
    symbols, nm = "", shutil.which("nm")
    if kernel is not None and nm:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            symbols = subprocess.run(
                [nm, "-DC", str(kernel)], check=False, capture_output=True, text=True, timeout=120
            ).stdout
    return {"abi": "cxx11" if "[abi:cxx11]" in symbols else "old", "mpi": " MPI_Init" in symbols}


def _versions() -> dict[str, str]:
    build = nest_build()
    return {
        "nestml": importlib.metadata.version("nestml"),
        "nest-simulator": importlib.metadata.version("nest-simulator"),
        "nest-build": f"abi {build['abi']}, mpi {build['mpi']}",
        "compiler": _compiler_version(),
    }


def build_key(sources: Mapping[str, str]) -> str:
    """The cache key of a set of NESTML models (name -> source without values)."""
    content = {"sources": dict(sorted(sources.items())), "options": BUILD_OPTIONS, "versions": _versions()}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _nest_config_text() -> tuple[str, str]:
    """The NEST version and the text of the corrected ``nest-config``."""
    nest = _nest_folder()
    version = importlib.metadata.version("nest-simulator")
    original = Path(sys.executable).parent / "nest-config"
    build = nest_build()
    # the wheel's kernel uses the old C++ string ABI; a kernel built here, the compiler's own
    abi = " -D" + BUILD_OPTIONS["cxx_abi"] if build["abi"] == "old" else ""
    cflags = "-Wall -fopenmp -O2 -O3 -DNDEBUG -std=c++20" + abi
    if original.exists():
        for line in original.read_text().splitlines():
            if '"' in line and "-std=" in line and "echo" in line:
                cflags = line.split('"')[1].strip() + abi
    mpi_includes, mpicxx = "", shutil.which("mpicxx")
    if build["mpi"] and mpicxx:  # NEST's headers include mpi.h; the kernel brings the library at load time
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            flags = subprocess.run(
                [mpicxx, "--showme:compile"], check=False, capture_output=True, text=True, timeout=30
            )
            mpi_includes = " " + flags.stdout.strip()
    text = f"""#!/bin/sh
# nest-config for the NEST wheel at {nest}, written by sourced_neuron
case "$1" in
  --prefix|--exec-prefix) echo "{nest}" ;;
  --version) echo "{version}" ;;
  --includes) echo "-I{nest}/include/nest{mpi_includes} -I/usr/local/include -I/usr/include" ;;
  --cflags) echo "{cflags}" ;;
  --libs) echo "" ;;
  --compiler) echo "g++" ;;
  --compiler-name) echo "GNU" ;;
  --compiler-version) echo "$(g++ -dumpversion)" ;;
  --python-executable) echo "{sys.executable}" ;;
  --python-version) echo "{sys.version.split()[0]}" ;;
  --static-libraries) echo "OFF" ;;
  --docdir) echo "share/doc/nest" ;;
  --datadir) echo "share/nest" ;;
  --libdir) echo "lib/nest" ;;
  *) echo "usage: nest-config --prefix|--includes|--cflags|--libs|--compiler|--version" >&2; exit 1 ;;
esac
"""
    return version, text


@contextlib.contextmanager
def _nest_config(root: Path) -> Iterator[Path]:
    """A folder with a corrected ``bin/nest-config`` for the NEST wheel (see docs/development.md),
    held (a shared lock) for the duration of the block, so that ``cache clear`` leaves it alone.

    The wheel's script reports the paths and compiler of the machine it was built on and
    libraries that do not exist here; the kernel's symbols are exported by the Python
    extension, so modules need no link libraries, but must use the wheel's old C++ ABI. The
    folder is named by a hash of the script (it names this Python), carries its digest and is
    written again when damaged.
    """
    version, text = _nest_config_text()
    tag = hashlib.sha256(text.encode()).hexdigest()[:12]
    folder = root / "toolchain" / f"nest-{version}-{tag}"
    lock_path = folder.with_name(folder.name + ".lock")
    for _ in range(3):
        lock = cache.acquire(lock_path, shared=True)
        if cache.check_digests(folder, ("bin/nest-config",)) is None:
            try:
                yield folder
            finally:
                lock.release()
            return
        lock.release()
        with cache.acquire(lock_path):  # exclusive: nobody builds with it now
            problem = cache.check_digests(folder, ("bin/nest-config",))
            if problem is not None:
                if folder.exists():
                    cache.notice(folder, problem)
                    cache.remove_tree(folder)
                cache.remove_stale(folder.parent)
                temporary = folder.with_name(f"{folder.name}.tmp{os.getpid()}")
                with cache.writing(folder):
                    cache.remove_tree(temporary)
                    (temporary / "bin").mkdir(parents=True)
                    (temporary / "bin" / "nest-config").write_text(text)
                    (temporary / "bin" / "nest-config").chmod(0o755)
                    cache.write_digests(temporary, ["bin/nest-config"])
                    temporary.rename(folder)
    raise BuildError(f"the NEST toolchain folder {str(folder)!r} keeps changing while it is written; try again")


#: Run first in the build process (the group leader of a process group of its own): it and
#: every process it starts (cmake, make, g++) die with the process that started the build.
#: Linux's PR_SET_PDEATHSIG delivers SIGTERM when that process dies, and a thread watching the
#: parent's id covers other systems and a parent killed before the signal was set up; either
#: way the whole process group gets SIGKILL.
_GUARD = """
import ctypes, os, signal, sys, threading, time
_sn_parent = int(sys.argv[2])
def _sn_stop(*_):
    os.killpg(0, signal.SIGKILL)
signal.signal(signal.SIGTERM, _sn_stop)
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
except (OSError, AttributeError):
    pass
def _sn_watch():
    while os.getppid() == _sn_parent:
        time.sleep(0.25)
    _sn_stop()
threading.Thread(target=_sn_watch, daemon=True).start()
"""

_BUILD_SCRIPT = """
import json, sys
from pynestml.codegeneration.printers.constant_printer import ConstantPrinter
from pynestml.frontend.pynestml_frontend import generate_nest_target
import odetoolbox
args = json.loads(sys.argv[1])
ConstantPrinter.n_float_digits = args["float_digits"]
# ODE-toolbox draws its dependency graph whenever the graphviz package imports (pyNeuroML
# installs it), and fails without Graphviz's dot program: nothing here needs the drawing
odetoolbox.PLOT_DEPENDENCY_GRAPH = False
options = {"nest_path": args["nest_path"], "solver": args["solver"]}
if args["pairs"]:  # synapses co-generated with their postsynaptic neuron
    options["neuron_synapse_pairs"] = [
        {"neuron": neuron, "synapses": {s: {"post_ports": ["post_spikes"]} for s in synapses}}
        for neuron, synapses in args["pairs"]
    ]
    every = sorted({s for _, synapses in args["pairs"] for s in synapses})
    options["weight_variable"] = dict.fromkeys(every, "w")
    options["delay_variable"] = dict.fromkeys(every, "d")
    # all synapse state stays in the synapse (per connection), as on Brian2
    options["strictly_synaptic_vars"] = args["synaptic_vars"]
import re
from pathlib import Path
from pynestml.codegeneration.nest_builder import NESTBuilder
_compile = NESTBuilder.build
def _patched_build(self):  # CPP_PATCHES, on the generated code, before it is compiled
    for source in sorted(Path(args["target"]).glob("*.cpp")):
        text = source.read_text()
        found = [re.search(pattern, text) is not None for pattern, _ in args["patches"]]
        if not found[-1]:
            continue  # no onReceive block: nothing to edit
        if not all(found):
            sys.exit(f"sourced_neuron: edit {found.index(False) + 1} of CPP_PATCHES does not match {source.name}")
        for pattern, replacement in args["patches"]:
            text = re.sub(pattern, replacement, text)
        if "spike_input_received_grid_sum_[" in text:
            sys.exit(f"sourced_neuron: CPP_PATCHES left a spike flag in {source.name}")
        source.write_text(text)
    return _compile(self)
NESTBuilder.build = _patched_build
generate_nest_target(input_path=args["input"], target_path=args["target"], install_path=args["install"],
                     module_name=args["module"], logging_level="WARNING", codegen_opts=options)
"""

#: Environment variables of MPI launchers (Open MPI, PMI, PMIx), kept from the build process.
MPI_LAUNCHER_PREFIXES = ("OMPI_", "PMI_", "PMIX_")

#: Seconds a build may take before it is stopped.
BUILD_TIMEOUT = 3600

#: Shared locks on the modules this process uses (``nest/<key>.use``), held until it exits, so
#: that ``cache clear`` in another process skips them.
_IN_USE: dict[Path, cache.Lock] = {}


def _use(root: Path, key: str) -> None:
    path = root / f"{key}.use"
    if path not in _IN_USE:
        try:
            _IN_USE[path] = cache.acquire(path, shared=True)
        except OSError:
            pass  # a cache this process cannot write (nor clear): its modules are used unmarked


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _run_build(args: dict, log: Path) -> int:
    """Run NESTML in a process group of its own that dies with this process; returns its exit
    status. On any exception here (KeyboardInterrupt included) the group is killed first."""
    command = [sys.executable, "-c", _GUARD + _BUILD_SCRIPT, json.dumps(args), str(os.getpid())]
    # NESTML imports NEST to read its version; under mpirun the launcher's variables would make
    # that import join the parent's MPI job (and fail): the build runs as a process of its own
    env = {k: v for k, v in os.environ.items() if not k.startswith(MPI_LAUNCHER_PREFIXES)}
    with open(log, "w") as output:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )
    try:
        deadline = time.monotonic() + BUILD_TIMEOUT
        # wait without reaping: the leader's id (the group's) stays reserved until the group is killed
        while os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is None:
            if time.monotonic() > deadline:
                raise BuildError(f"building the NEST module took more than {BUILD_TIMEOUT} s and was stopped")
            time.sleep(0.2)
    finally:
        _kill_group(process)  # whatever it left running (or everything, on an exception)
        process.wait()
    return process.returncode


def _module_problem(folder: Path, key: str) -> str | None:
    """What is wrong with the module folder of ``key`` (``None``: intact)."""
    module_name = f"sn{key[:16]}module"
    manifest = folder / "manifest.json"
    problem = cache.check_digests(folder, ("manifest.json", f"{module_name}.so"))
    if problem == cache.NO_DIGEST and manifest.exists():
        # built before entries carried digests (renamed into place complete): adopted if its
        # manifest reads and its library is not truncated
        if _manifest_problem(folder, key) is None and cache.elf_complete(folder / f"{module_name}.so"):
            try:
                cache.write_digests(folder, _files(folder))
            except OSError:
                pass  # a read-only cache: used as it is
            return None
    return problem or _manifest_problem(folder, key)


def _manifest_problem(folder: Path, key: str) -> str | None:
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"its manifest.json is unreadable ({exc})"
    module = manifest.get("module") if isinstance(manifest, dict) else None
    models = manifest.get("models") if isinstance(manifest, dict) else None
    if (
        module != f"sn{key[:16]}module"
        or manifest.get("key") != key
        or not isinstance(models, list)
        or not all(isinstance(m, str) for m in models)
    ):
        return "its manifest.json does not describe this module"
    return None


def _files(folder: Path) -> list[str]:
    return [str(f.relative_to(folder)) for f in folder.rglob("*") if f.is_file() and f.name != cache.DIGESTS]


def build_module(
    sources: Mapping[str, str],
    hash_sources: Mapping[str, str] | None = None,
    pairs: Mapping[str, tuple[str, ...]] | None = None,
    synaptic_vars: Mapping[str, list[str]] | None = None,
) -> BuiltModule:
    """Compile NESTML models (name -> source) into one NEST module, or reuse the cached one.

    A cached module is used only when its files match the digests written when it was built
    (so a truncated or changed library is never loaded); a damaged one is removed and built
    again, with a :class:`~sourced_neuron.common.cache.CacheWarning`. The module stays marked as in
    use by this process (``cache clear`` skips it) until the process exits.

    Parameters
    ----------
    sources : mapping
        NEST model name to NESTML text.
    hash_sources : mapping, optional
        The texts that identify the build (default: ``sources``); pass the sources without
        parameter values so that other values reuse the module.
    pairs : mapping, optional
        Neuron name to the synapse models co-generated with it (NESTML's neuron-synapse
        pairs: the module then also holds ``<neuron>__with_<synapse>_and_...`` and
        ``<synapse>__with_<neuron>``).
    synaptic_vars : mapping, optional
        Synapse name to the variables that stay in each connection.

    Raises
    ------
    ToolchainError
        A compiler, header or package is missing.
    BuildError
        NESTML or the compiler failed; the message shows the relevant lines and the log file.
    StorageError
        The cache folder is full or cannot be written.
    """
    pairs = {k: tuple(v) for k, v in sorted((pairs or {}).items())}
    key = build_key({**(hash_sources or sources), **({"sn_pairs": json.dumps(pairs)} if pairs else {})})
    root = cache_root() / "nest"
    final = root / key
    _use(root, key)
    if _module_problem(final, key) is None:
        return _read(final)
    check_toolchain()
    with cache.acquire(root / f"{key}.lock"):  # exclusive: one build of a key at a time
        problem = _module_problem(final, key)  # built by another process meanwhile?
        if problem is None:
            return _read(final)
        if final.exists():
            cache.notice(final, problem)
            with cache.writing(final):
                cache.remove_tree(final)
        for folder in (root, root / "failed", cache_root() / "toolchain", cache_root() / "steps"):
            cache.remove_stale(folder)  # leftovers of killed builds and writes
        _build(sources, key, pairs, synaptic_vars)
    return _read(final)


def _build(sources: Mapping[str, str], key: str, pairs: dict, synaptic_vars) -> None:
    """Build the module of ``key`` in a work folder and rename it into place (with the key's lock held)."""
    module_name = f"sn{key[:16]}module"
    root = cache_root() / "nest"
    work = root / f".build-{key}-{os.getpid()}"
    kept = False
    try:
        with cache.writing(work):
            cache.remove_tree(work)
            (work / "src").mkdir(parents=True)
            for name, text in sources.items():
                (work / "src" / f"{name}.nestml").write_text(text, encoding="utf-8")
        install = work / "module"
        started = time.perf_counter()
        log = work / "build.log"
        with _nest_config(cache_root()) as nest_path:
            args = {
                "input": str(work / "src"),
                "target": str(work / "target"),
                "install": str(install),
                "module": module_name,
                "nest_path": str(nest_path),
                "solver": BUILD_OPTIONS["solver"],
                "float_digits": BUILD_OPTIONS["float_digits"],
                "patches": CPP_PATCHES,
                "pairs": sorted(pairs.items()),
                "synaptic_vars": dict(synaptic_vars or {}),
            }
            with cache.writing(log):
                returncode = _run_build(args, log)
        library = install / f"{module_name}.so"
        if returncode != 0 or not library.exists():
            text = log.read_text(errors="replace") if log.exists() else ""
            if cache.no_room(root, text):
                raise cache.no_room_error("building the NEST module", root)
            failed = root / "failed" / key
            with cache.writing(failed):
                cache.remove_tree(failed)
                failed.parent.mkdir(parents=True, exist_ok=True)
                work.rename(failed)
            kept = True
            raise BuildError(_failure_message(failed / "build.log", failed))
        # the models the module defines, as NESTML named them (one header each)
        built = sorted(h.stem for h in (work / "target").glob("*.h") if h.stem != module_name)
        manifest = {
            "key": key,
            "module": module_name,
            "models": built,
            "versions": _versions(),
            "build_seconds": round(time.perf_counter() - started, 1),
            "created": time.time(),
        }
        with cache.writing(install):
            (install / "manifest.json").write_text(json.dumps(manifest, indent=2))
            for name, text in sources.items():
                (install / f"{name}.nestml").write_text(text, encoding="utf-8")
            cache.write_digests(install, _files(install))  # the entry is complete
            install.rename(root / key)  # atomic: the entry appears complete or not at all
    finally:
        if not kept:
            with contextlib.suppress(OSError):
                cache.remove_tree(work)


def _failure_message(log: Path, folder: Path) -> str:
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    relevant = [line for line in lines if "error" in line.lower()] or lines
    excerpt = "\n".join(relevant[-15:])
    return f"building the NEST module failed; the build folder is {folder} (log: {log})\n{excerpt}"


def _read(folder: Path) -> BuiltModule:
    manifest = json.loads((folder / "manifest.json").read_text())
    return BuiltModule(manifest["key"], manifest["module"], folder, tuple(manifest["models"]))


def cache_entries() -> list[dict]:
    """The intact cached modules (their manifests, with the folder and its size in bytes);
    :func:`sourced_neuron.common.cache.cache_entries` lists everything in the cache."""
    return [
        {**entry.detail, "path": str(entry.path), "bytes": entry.bytes}
        for entry in cache.cache_entries()
        if entry.kind == "nest-module" and entry.detail and entry.problem in (None, cache.LEGACY)
    ]


def build_models(models, inputs=None) -> tuple[BuiltModule, list[str]]:
    """Generate NESTML for several models and compile them into one (cached) module.

    Returns the module and the NEST model name of each model, in order. Models that differ
    only in parameter values share a NEST model (values are set at run time). ``inputs``
    (:class:`sourced_neuron.codegen.nestml.Inputs`, default all) are the input ports generated.
    """
    from sourced_neuron.codegen.nestml import ALL_INPUTS, generate, render

    inputs = inputs or ALL_INPUTS
    sources, keys, names = {}, {}, []
    for model in models:
        source = generate(model, inputs)
        names.append(source.model_name)
        sources.setdefault(source.model_name, source.text)
        keys.setdefault(source.model_name, render(model, values=False, name=source.model_name, inputs=inputs))
    return build_module(sources, keys), names


def build_paired(model, synapses, inputs=None) -> tuple[BuiltModule, str, dict[str, str]]:
    """Compile ``model`` co-generated with synapse models ending on it (NESTML's neuron-synapse pairs).

    Each pairing gets a module of its own in which every name is unique to the pairing (the
    neuron is renamed with a hash of the synapse models), so it loads next to any other module.
    Returns the module, the NEST name of the paired neuron and the NEST name of each synapse
    model (by its name). ``inputs`` as in :func:`build_models`.
    """
    import hashlib

    from sourced_neuron.codegen.nestml import ALL_INPUTS, nestml_model_name, nestml_synapse_name, render, render_synapse

    inputs = inputs or ALL_INPUTS

    synapses = sorted(synapses, key=lambda s: s.name)
    tag = hashlib.sha256(" ".join(nestml_synapse_name(s) for s in synapses).encode()).hexdigest()[:8]
    base = f"{nestml_model_name(model, inputs)}_p{tag}"
    sources = {base: render(model, name=base, inputs=inputs)}
    keys = {base: render(model, values=False, name=base, inputs=inputs)}
    for synapse in synapses:
        sources[nestml_synapse_name(synapse)] = keys[nestml_synapse_name(synapse)] = render_synapse(synapse)
    names = [nestml_synapse_name(s) for s in synapses]
    # all synapse state stays in the connection, as on Brian2 (NESTML would move traces that
    # only postsynaptic spikes change into the neuron)
    kept = {nestml_synapse_name(s): ["w", *s.variables, "sn_lastupdate"] for s in synapses}
    module = build_module(sources, keys, {base: tuple(names)}, kept)
    # NESTML names the paired models "<neuron>__with_<synapses>" and "<synapse>__with_<...>"
    neuron = next(m for m in module.models if m.startswith(f"{base}__with_"))
    paired = {s.name: next(m for m in module.models if m.startswith(nestml_synapse_name(s) + "__")) for s in synapses}
    return module, neuron, paired
