"""Writing and reading Neo blocks (NIX files through nixio, or Neo's pickle format).

Writing is atomic: the block goes to a temporary file in the same folder, which is renamed
to the final name only when complete, so an interrupted write never leaves a corrupt file
under that name.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import neo

from .errors import InputError
from .units import as_quantity

__all__ = ["FORMATS", "annotation_values", "read_block", "read_blocks", "write_block", "write_blocks"]

#: File suffix -> Neo IO class.
FORMATS = {".nix": neo.io.NixIO, ".pkl": neo.io.PickleIO}


def _io_class(path: Path):
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise InputError(f"cannot tell the format of {str(path)!r}: use one of {', '.join(FORMATS)}") from None


def write_block(block: neo.Block, path: str | Path) -> Path:
    """Write ``block`` to ``path`` (``.nix`` or ``.pkl``), atomically. Returns the path."""
    return write_blocks([block], path)


def write_blocks(blocks: list[neo.Block], path: str | Path) -> Path:
    """Write several blocks to one file, atomically (NIX holds many; pickle holds one)."""
    path = Path(path)
    io_class = _io_class(path)
    if io_class is not neo.io.NixIO and len(blocks) != 1:
        raise InputError(f"{path.suffix} files hold one block; use .nix for {len(blocks)} blocks")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(handle)
    try:
        if io_class is neo.io.NixIO:
            io = neo.io.NixIO(temporary, mode="ow")
            try:
                for block in blocks:
                    io.write_block(block)
            finally:
                io.close()
        else:
            io_class(temporary).write_block(blocks[0])
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return path


def read_block(path: str | Path) -> neo.Block:
    """Read the first block of a file written by :func:`write_block`."""
    return read_blocks(path)[0]


def read_blocks(path: str | Path) -> list[neo.Block]:
    """Read every block of a file written by :func:`write_blocks`."""
    path = Path(path)
    io_class = _io_class(path)
    if not path.is_file():
        raise InputError(f"no such file: {str(path)!r}")
    if io_class is neo.io.NixIO:
        io = neo.io.NixIO(str(path), mode="ro")
        try:
            return list(io.read_all_blocks())
        finally:
            io.close()
    return [io_class(str(path)).read_block()]


def annotation_values(block: neo.Block, key: str = "parameters") -> dict:
    """The ``"name = value"`` list annotations of a block (``parameters``, ``initial``) as quantities."""
    result = {}
    for item in block.annotations.get(key, []):
        name, _, value = str(item).partition(" = ")
        result[name] = as_quantity(value, f"annotation {key}.{name}")
    return result
