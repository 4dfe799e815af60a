"""Reading and writing files safely: the one place the package opens a user's path.

Reading (:func:`read_bytes`, :func:`read_text`): only regular files, opened without blocking
(a FIFO or device never hangs a read) and read up to a size limit, so ``/dev/zero`` or a huge
file is refused before it fills memory.

Writing (:func:`atomic_write`): the data go to a hidden temporary file beside the destination,
which replaces it only when complete, so an interrupted write never leaves a partial file under
the user's name. The destination is checked first (:func:`check_output`): a symbolic link is
written through (its target is replaced; the link stays), folders, devices, FIFOs and sockets
are refused, an existing file keeps its permissions (and, for root, its owner), a new file gets
the permissions the umask gives, and a missing parent folder is created. Temporary files left by
a killed process are removed by the next write to the same destination. A full disk or a
read-only folder is reported as a :class:`~sourced_neuron.common.errors.StorageError` that names the
user's path and what to do, never the temporary file.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sourced_neuron.common.errors import InputError, StorageError

__all__ = [
    "alive",
    "as_path",
    "atomic_write",
    "check_folder",
    "check_output",
    "free_bytes",
    "json_default",
    "read_bytes",
    "read_text",
    "regular_file",
    "storage_error",
    "write_text",
]

#: Errors that mean "no room": a full disk, a quota, a file-size limit.
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
#: Errors that mean "not allowed to write here".
_NOT_WRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM}
#: Kept free beyond a write's estimated size, so that a write estimated to fit still has room.
MARGIN_BYTES = 1_000_000


def as_path(path: object, what: str) -> Path:
    """``path`` (a string or path-like) as a :class:`~pathlib.Path`; anything else, an empty
    name or a name with a null byte is an :class:`InputError` naming ``what``."""
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, str | os.PathLike):
        raise InputError(f"{what}: expected a file name (a string or path), got {type(path).__name__} {path!r}")
    text = os.fspath(path)
    if not isinstance(text, str):
        text = os.fsdecode(text)
    if not text:
        raise InputError(f"{what}: the file name is empty")
    if "\x00" in text:
        raise InputError(f"{what}: the file name {text!r} contains a null byte")
    return Path(text)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


# --- reading ------------------------------------------------------------------------------------


def regular_file(path: object, what: str) -> Path:
    """The path of an existing regular file (symbolic links followed).

    Raises
    ------
    InputError
        No such file, or a folder, device, FIFO or socket, named with ``what``.
    """
    path = as_path(path, what)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputError(f"{what}: no such file: {str(path)!r}") from None
    except OSError as exc:
        raise InputError(f"{what}: cannot read {str(path)!r} ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode):
        raise InputError(f"{what}: {str(path)!r} is {_kind(mode)}, not a regular file")
    return path


def read_bytes(path: object, what: str, limit: int) -> bytes:
    """The content of a regular file of at most ``limit`` bytes.

    The file is opened without blocking and checked to be regular on the open descriptor, so
    a FIFO swapped in after the check cannot hang the read.

    Raises
    ------
    InputError
        Not a regular file, unreadable, or larger than ``limit`` bytes.
    """
    path = regular_file(path, what)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InputError(f"{what}: cannot read {str(path)!r} ({exc.strerror or exc})") from None
    with os.fdopen(descriptor, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise InputError(f"{what}: {str(path)!r} is {_kind(mode)}, not a regular file")
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise InputError(f"{what}: cannot read {str(path)!r} ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise InputError(f"{what}: {str(path)!r} is larger than {limit:,} bytes")
    return data


def read_text(path: object, what: str, limit: int, encoding: str = "utf-8") -> str:
    """The text of a regular file of at most ``limit`` bytes (see :func:`read_bytes`).

    Raises
    ------
    InputError
        As :func:`read_bytes`, or the bytes are not text in ``encoding``.
    """
    data = read_bytes(path, what, limit)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{what}: {str(path)!r} is not {encoding} text (byte {exc.start}: {data[exc.start : exc.start + 1]!r})"
        ) from None


# --- writing ------------------------------------------------------------------------------------


def _existing_ancestor(path: Path) -> Path:
    for parent in path.parents:
        if parent.exists():
            return parent
    return Path(".")


def free_bytes(folder: Path) -> int | None:
    """Free bytes for an unprivileged writer in ``folder`` (or its first existing ancestor)."""
    try:
        return shutil.disk_usage(_existing_ancestor(folder / "x")).free
    except OSError:
        return None


def check_output(path: object, what: str, suffixes: Iterable[str] | None = None) -> Path:
    """Check that ``path`` can be written, before any work is done for it; returns the path
    that will be replaced (a symbolic link's target).

    Parameters
    ----------
    path : str or path-like
    what : str
        Names the path in messages, e.g. ``"--out"``.
    suffixes : iterable of str, optional
        The allowed suffixes (lower case, with the dot).

    Raises
    ------
    InputError
        A suffix not allowed, a folder, device, FIFO or socket at the destination, or a parent
        that is not a folder or not writable.
    """
    path = as_path(path, what)
    if suffixes is not None:
        suffixes = tuple(suffixes)
        if path.suffix.lower() not in suffixes:
            raise InputError(
                f"{what}: cannot tell the format of {str(path)!r} from its suffix; use one of {', '.join(suffixes)}"
            )
    destination = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        mode = destination.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise InputError(f"{what}: cannot write {str(path)!r} ({exc.strerror or exc})") from None
    if mode is not None and not stat.S_ISREG(mode):
        shown = str(path) if destination == path else f"{path} (a link to {destination})"
        raise InputError(f"{what}: {shown!r} is {_kind(mode)}; give the name of a regular file to write")
    ancestor = _existing_ancestor(destination.absolute())
    if not ancestor.is_dir():
        raise InputError(f"{what}: cannot write {str(path)!r}: {str(ancestor)!r} is not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise InputError(f"{what}: cannot write {str(path)!r}: the folder {str(ancestor)!r} is not writable")
    return destination


def check_folder(path: object, what: str) -> Path:
    """Check that ``path`` is a folder, or can be created as one, before work is done for it.

    Raises
    ------
    InputError
        It exists and is not a folder, or its first existing ancestor is not a writable folder.
    """
    path = as_path(path, what)
    if path.exists() and not path.is_dir():
        raise InputError(f"{what}: {str(path)!r} exists and is not a folder")
    ancestor = path if path.is_dir() else _existing_ancestor(path.absolute())
    if not ancestor.is_dir():
        raise InputError(f"{what}: cannot create the folder {str(path)!r}: {str(ancestor)!r} is not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise InputError(f"{what}: cannot write in {str(path)!r}: the folder {str(ancestor)!r} is not writable")
    return path


def _umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # not thread-safe, so only where /proc is missing
    os.umask(mask)
    return mask


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists (and is not a zombie): the owner of a temporary file or a
    work folder named with its pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as info:
            return info.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _remove_stale(destination: Path) -> None:
    """Remove temporary files of earlier writes to ``destination`` whose process is gone."""
    pattern = re.compile(rf"^\.{re.escape(destination.name)}\.(\d+)-[^.]*\.part")
    try:
        candidates = list(destination.parent.iterdir())
    except OSError:
        return
    for candidate in candidates:
        match = pattern.match(candidate.name)
        if match and not alive(int(match.group(1))):
            try:
                candidate.unlink()
            except OSError:
                pass


def storage_error(exc: BaseException, path: Path, what: str, hint: str = "") -> StorageError | None:
    """The :class:`StorageError` an ``OSError`` while writing ``path`` means, or ``None`` when
    it is not about room or permissions. ``hint`` says what to do besides freeing space."""
    if not isinstance(exc, OSError):
        return None
    number = exc.errno
    folder = path.parent if path.parent != Path("") else Path(".")
    if number in _NO_SPACE:
        free = free_bytes(folder)
        shown = f" ({free / 1e6:.1f} MB free in {str(folder)!r})" if free is not None else ""
        return StorageError(
            f"{what}: cannot write {str(path)!r}: no space left{shown}. Free some space or write elsewhere"
            + (f"; {hint}" if hint else "")
            + "."
        )
    if number in _NOT_WRITABLE:
        return StorageError(
            f"{what}: cannot write {str(path)!r}: {exc.strerror or 'not allowed'} (the folder {str(folder)!r} is "
            "read-only or not yours)" + (f"; {hint}" if hint else "") + "."
        )
    return None


@contextmanager
def atomic_write(path: object, what: str = "output", size_hint: int = 0, hint: str = "") -> Iterator[Path]:
    """A temporary file to write; it replaces ``path`` when the ``with`` block succeeds.

    Parameters
    ----------
    path : str or path-like
        The destination (see the module docstring for links, folders and permissions).
    what : str
        Names the destination in messages.
    size_hint : int
        Estimated bytes to be written: refused before writing when the disk has less free space
        (some writers, HDF5's among them, cannot recover from a full disk).
    hint : str
        What to do besides freeing space, for :class:`StorageError` messages.

    Raises
    ------
    InputError
        The destination cannot be written (:func:`check_output`).
    StorageError
        Not enough free space, or a write failed for lack of room or permission.
    """
    destination = check_output(path, what)
    shown = as_path(path, what)
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise (storage_error(exc, shown, what, hint) or InputError(f"{what}: cannot create {exc.filename}")) from None
    _remove_stale(destination)
    free = free_bytes(destination.parent)
    if size_hint and free is not None and free < size_hint + MARGIN_BYTES:
        raise StorageError(
            f"{what}: cannot write {str(shown)!r}: it needs about {size_hint / 1e6:.1f} MB and "
            f"{str(destination.parent)!r} has {free / 1e6:.1f} MB free. Free some space or write elsewhere"
            + (f"; {hint}" if hint else "")
            + "."
        )
    try:
        existing = destination.stat()
    except FileNotFoundError:
        existing = None
    try:
        handle, name = tempfile.mkstemp(
            prefix=f".{destination.name}.{os.getpid()}-", suffix=f".part{destination.suffix}", dir=destination.parent
        )
    except OSError as exc:
        error = storage_error(exc, shown, what, hint)
        raise error or StorageError(f"{what}: cannot write {str(shown)!r}: {exc.strerror}") from None
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        mode = stat.S_IMODE(existing.st_mode) if existing is not None else 0o666 & ~_umask()
        os.chmod(temporary, mode)
        if existing is not None and os.geteuid() == 0:
            os.chown(temporary, existing.st_uid, existing.st_gid)
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, destination)
    except OSError as exc:
        error = storage_error(exc, shown, what, hint)
        if error is None:
            raise
        raise error from exc
    except BaseException as exc:
        # some writers (HDF5) report a full disk as their own error type
        free = free_bytes(destination.parent)
        if free is not None and free < MARGIN_BYTES and not isinstance(exc, KeyboardInterrupt | SystemExit):
            advice = "Free some space or write elsewhere" + (f"; {hint}" if hint else "")
            raise StorageError(
                f"{what}: cannot write {str(shown)!r}: no space left ({free / 1e6:.1f} MB free in "
                f"{str(destination.parent)!r}). {advice}."
            ) from exc
        raise
    finally:
        try:
            temporary.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            pass


def write_text(path: object, text: str, what: str = "output", encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write`); returns ``path``."""
    data = text.encode(encoding)
    with atomic_write(path, what, size_hint=len(data)) as temporary:
        temporary.write_bytes(data)
    return as_path(path, what)


def json_default(value: Any) -> Any:
    """NumPy scalars and arrays as JSON values: ``json.dumps(data, default=json_default)``."""
    if hasattr(value, "tolist") and type(value).__module__ == "numpy":
        return value.tolist()
    raise TypeError(f"not JSON-able: {type(value).__name__}")
