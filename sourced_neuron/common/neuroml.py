"""What the NeuroML parts share: the PyLEMS/pyNeuroML guard and NeuroML's core type files.

The core types (``NeuroML2CoreTypes/*.xml``: dimensions, units, the core cells, inputs,
networks and simulations) come from the jNeuroML jar that pyNeuroML ships, unpacked into the
cache once; every file this library writes or reads resolves its NeuroML types against them.
"""

from __future__ import annotations

import importlib.util
import shutil
import zipfile
from pathlib import Path

from sourced_neuron.common.cache import cache_root
from sourced_neuron.common.errors import BackendUnavailableError

__all__ = ["core_types_folder", "jneuroml_jar", "lems_api", "neuroml_unavailable"]

#: What to install for the NeuroML exports and imports.
INSTALL = "pip install 'sourced-neuron[neuroml]'"


def neuroml_unavailable() -> str | None:
    """Why the NeuroML parts cannot work here (with what to install), or ``None``."""
    if importlib.util.find_spec("lems") is None or importlib.util.find_spec("pyneuroml") is None:
        return f"NeuroML needs PyLEMS and pyNeuroML: {INSTALL}"
    if jneuroml_jar() is None:
        return f"pyNeuroML's jNeuroML jar (which holds NeuroML's core types) was not found: {INSTALL}"
    return None


def lems_api():
    """pylems' ``lems.api``, or :class:`BackendUnavailableError` naming what to install."""
    reason = neuroml_unavailable()
    if reason:
        raise BackendUnavailableError(reason)
    import lems.api

    return lems.api


def jneuroml_jar() -> Path | None:
    """The jNeuroML jar that pyNeuroML ships, or ``None``."""
    spec = importlib.util.find_spec("pyneuroml")
    if spec is None or not spec.submodule_search_locations:
        return None
    jars = sorted(Path(next(iter(spec.submodule_search_locations)), "lib").glob("jNeuroML-*-jar-with-dependencies.jar"))
    return jars[-1] if jars else None


def core_types_folder() -> Path:
    """The NeuroML core type files (``NeuroML2CoreTypes/*.xml``), unpacked from the jNeuroML jar
    into the cache once."""
    reason = neuroml_unavailable()
    if reason:
        raise BackendUnavailableError(reason)
    jar = jneuroml_jar()
    folder = cache_root() / "neuroml" / jar.stem / "NeuroML2CoreTypes"
    if not (folder / "Cells.xml").exists():
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        with zipfile.ZipFile(jar) as archive:
            for name in archive.namelist():
                if name.startswith("NeuroML2CoreTypes/") and name.endswith(".xml"):
                    (partial / Path(name).name).write_bytes(archive.read(name))
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)
    return folder
