"""Compiling generated NESTML into NEST extension modules, with a content-addressed cache.

The cache key hashes the generated NESTML (without parameter values, which are set at run
time), the target, the build options and the versions of nestml, NEST and the compiler; the
module name derives from the key. A build happens in a temporary folder and is renamed into
place only when complete, under a file lock, so concurrent processes build a key once and a
failed or half-written build is never used. The cache lives in ``$SOURCED_NEURON_CACHE`` or
the user's cache folder (``$XDG_CACHE_HOME/sourced_neuron``, default ``~/.cache/sourced_neuron``).
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .cache import cache_root
from .errors import BackendUnavailableError, SimulationError

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
BUILD_OPTIONS = {"target": "nest", "cxx_abi": "_GLIBCXX_USE_CXX11_ABI=0", "solver": "numeric", "float_digits": 17}

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


def _versions() -> dict[str, str]:
    return {
        "nestml": importlib.metadata.version("nestml"),
        "nest-simulator": importlib.metadata.version("nest-simulator"),
        "compiler": _compiler_version(),
    }


def build_key(sources: Mapping[str, str]) -> str:
    """The cache key of a set of NESTML models (name -> source without values)."""
    content = {"sources": dict(sorted(sources.items())), "options": BUILD_OPTIONS, "versions": _versions()}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _nest_config(root: Path) -> Path:
    """A folder with a corrected ``bin/nest-config`` for the NEST wheel (see docs/development.md).

    The wheel's script reports the paths and compiler of the machine it was built on and
    libraries that do not exist here; the kernel's symbols are exported by the Python
    extension, so modules need no link libraries, but must use the wheel's old C++ ABI.
    """
    nest = _nest_folder()
    version = importlib.metadata.version("nest-simulator")
    folder = root / "toolchain" / f"nest-{version}"
    script = folder / "bin" / "nest-config"
    if script.exists():
        return folder
    original = Path(sys.executable).parent / "nest-config"
    cflags = "-Wall -fopenmp -O2 -O3 -DNDEBUG -std=c++20 -D" + BUILD_OPTIONS["cxx_abi"]
    if original.exists():
        for line in original.read_text().splitlines():
            if '"' in line and "-std=" in line and "echo" in line:
                cflags = line.split('"')[1].strip() + " -D" + BUILD_OPTIONS["cxx_abi"]
    text = f"""#!/bin/sh
# nest-config for the NEST wheel at {nest}, written by sourced_neuron
case "$1" in
  --prefix|--exec-prefix) echo "{nest}" ;;
  --version) echo "{version}" ;;
  --includes) echo "-I{nest}/include/nest -I/usr/local/include -I/usr/include" ;;
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
    temporary = folder.with_name(folder.name + f".tmp{os.getpid()}")
    (temporary / "bin").mkdir(parents=True, exist_ok=True)
    (temporary / "bin" / "nest-config").write_text(text)
    (temporary / "bin" / "nest-config").chmod(0o755)
    try:
        temporary.rename(folder)
    except OSError:  # another process wrote it first
        shutil.rmtree(temporary, ignore_errors=True)
    return folder


_BUILD_SCRIPT = """
import json, sys
from pynestml.codegeneration.printers.constant_printer import ConstantPrinter
from pynestml.frontend.pynestml_frontend import generate_nest_target
args = json.loads(sys.argv[1])
ConstantPrinter.n_float_digits = args["float_digits"]
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
generate_nest_target(input_path=args["input"], target_path=args["target"], install_path=args["install"],
                     module_name=args["module"], logging_level="WARNING", codegen_opts=options)
"""


def build_module(
    sources: Mapping[str, str],
    hash_sources: Mapping[str, str] | None = None,
    pairs: Mapping[str, tuple[str, ...]] | None = None,
    synaptic_vars: Mapping[str, list[str]] | None = None,
) -> BuiltModule:
    """Compile NESTML models (name -> source) into one NEST module, or reuse the cached one.

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
    """
    pairs = {k: tuple(v) for k, v in sorted((pairs or {}).items())}
    key = build_key({**(hash_sources or sources), **({"sn_pairs": json.dumps(pairs)} if pairs else {})})
    module_name = f"sn{key[:16]}module"
    root = cache_root() / "nest"
    final = root / key
    if (final / "manifest.json").exists():
        return _read(final)
    check_toolchain()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (final / "manifest.json").exists():  # built by another process meanwhile
            return _read(final)
        nest_path = _nest_config(cache_root())
        work = root / f".build-{key[:16]}-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        (work / "src").mkdir(parents=True)
        for name, text in sources.items():
            (work / "src" / f"{name}.nestml").write_text(text, encoding="utf-8")
        install = work / "module"
        args = {
            "input": str(work / "src"),
            "target": str(work / "target"),
            "install": str(install),
            "module": module_name,
            "nest_path": str(nest_path),
            "solver": BUILD_OPTIONS["solver"],
            "float_digits": BUILD_OPTIONS["float_digits"],
            "pairs": sorted(pairs.items()),
            "synaptic_vars": dict(synaptic_vars or {}),
        }
        started = time.perf_counter()
        log = work / "build.log"
        with open(log, "w") as output:
            result = subprocess.run(
                [sys.executable, "-c", _BUILD_SCRIPT, json.dumps(args)],
                stdout=output,
                stderr=subprocess.STDOUT,
                check=False,
                timeout=3600,
            )
        library = install / f"{module_name}.so"
        if result.returncode != 0 or not library.exists():
            failed = root / "failed" / key
            shutil.rmtree(failed, ignore_errors=True)
            failed.parent.mkdir(parents=True, exist_ok=True)
            work.rename(failed)
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
        (install / "manifest.json").write_text(json.dumps(manifest, indent=2))
        for name, text in sources.items():
            (install / f"{name}.nestml").write_text(text, encoding="utf-8")
        install.rename(final)  # atomic: the entry appears complete or not at all
        shutil.rmtree(work, ignore_errors=True)
    return _read(final)


def _failure_message(log: Path, folder: Path) -> str:
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    relevant = [line for line in lines if "error" in line.lower()] or lines
    excerpt = "\n".join(relevant[-15:])
    return f"building the NEST module failed; the build folder is {folder} (log: {log})\n{excerpt}"


def _read(folder: Path) -> BuiltModule:
    manifest = json.loads((folder / "manifest.json").read_text())
    return BuiltModule(manifest["key"], manifest["module"], folder, tuple(manifest["models"]))


def cache_entries() -> list[dict]:
    """The cached modules (their manifests, with the folder and its size in bytes)."""
    entries = []
    for manifest in sorted((cache_root() / "nest").glob("*/manifest.json")):
        data = json.loads(manifest.read_text())
        size = sum(f.stat().st_size for f in manifest.parent.rglob("*") if f.is_file())
        entries.append({**data, "path": str(manifest.parent), "bytes": size})
    return entries


def clear_cache() -> int:
    """Delete every cached module and failed build; returns how many entries were removed."""
    root = cache_root() / "nest"
    count = len(list(root.glob("*/manifest.json"))) if root.exists() else 0
    shutil.rmtree(root, ignore_errors=True)
    return count


def build_models(models) -> tuple[BuiltModule, list[str]]:
    """Generate NESTML for several models and compile them into one (cached) module.

    Returns the module and the NEST model name of each model, in order. Models that differ
    only in parameter values share a NEST model (values are set at run time).
    """
    from .targets.nestml import generate, render

    sources, keys, names = {}, {}, []
    for model in models:
        source = generate(model)
        names.append(source.model_name)
        sources.setdefault(source.model_name, source.text)
        keys.setdefault(source.model_name, render(model, values=False, name=source.model_name))
    return build_module(sources, keys), names


def build_paired(model, synapses) -> tuple[BuiltModule, str, dict[str, str]]:
    """Compile ``model`` co-generated with synapse models ending on it (NESTML's neuron-synapse pairs).

    Each pairing gets a module of its own in which every name is unique to the pairing (the
    neuron is renamed with a hash of the synapse models), so it loads next to any other module.
    Returns the module, the NEST name of the paired neuron and the NEST name of each synapse
    model (by its name).
    """
    import hashlib

    from .targets.nestml import nestml_model_name, nestml_synapse_name, render, render_synapse

    synapses = sorted(synapses, key=lambda s: s.name)
    tag = hashlib.sha256(" ".join(nestml_synapse_name(s) for s in synapses).encode()).hexdigest()[:8]
    base = f"{nestml_model_name(model)}_p{tag}"
    sources = {base: render(model, name=base)}
    keys = {base: render(model, values=False, name=base)}
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
