"""The package's cache folder: compiled NEST modules, Brian2 standalone projects, derived steps.

Layout, under :func:`cache_root`::

    nest/<key>/                     a NEST module: <module>.so, manifest.json, its NESTML sources, SHA256SUMS
    nest/<key>.lock                 held exclusively while the module is built or repaired
    nest/<key>.use                  held shared by every process that uses the module, until it exits
    nest/.build-<key>-<pid>/        a build in progress (or the leftover of a killed one)
    nest/failed/<key>/              a failed build with its log, never used
    brian2/<device>/<key>/          a standalone project; SHA256SUMS covers its binary and the arrays it reads
    brian2/<device>/<key>.lock      held exclusively while the project is built or run
    steps/<key>.txt                 a derived integration step; its first line is the digest of the rest
    toolchain/nest-<version>-<h>/   the corrected ``nest-config`` for NEST builds; SHA256SUMS
    toolchain/nest-<version>-<h>.lock   shared while a build uses it, exclusive while it is written
    *.tmp<pid>, .removing-*-<pid>   a write or a removal in progress (or the leftover of a killed one)

Every entry carries SHA-256 digests written when it is complete (``SHA256SUMS``, in the format
of ``sha256sum``, so ``sha256sum -c SHA256SUMS`` checks it by hand) and checked before it is
used: a damaged entry (a changed or truncated file, a missing file, an unreadable manifest) is
removed and rebuilt, with a :class:`CacheWarning` naming it and what was wrong. Digests catch
damage (a killed write, a full disk, a truncated or edited file), not a deliberate forgery by
someone who can write the cache folder (who could change the digests as well).

Locks are ``flock`` locks on the ``.lock``/``.use`` files; :func:`clear_cache` takes each
entry's locks without waiting, so an entry being built or used by another process is skipped
and reported, never deleted under it. Leftovers of processes that are gone (work folders and
temporary files named with their process id) are removed by the next build and by
:func:`clear_cache`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import struct
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sourced_neuron.common.errors import StorageError
from sourced_neuron.common.files import MARGIN_BYTES, alive, free_bytes, storage_error

__all__ = [
    "CACHE_VARIABLE",
    "DIGESTS",
    "CacheEntry",
    "CacheWarning",
    "ClearReport",
    "Lock",
    "acquire",
    "cache_entries",
    "cache_root",
    "check_digests",
    "clear_cache",
    "elf_complete",
    "holders",
    "load_text",
    "notice",
    "remove_stale",
    "remove_tree",
    "storage_problem",
    "store_text",
    "write_digests",
    "write_file",
    "writing",
]

#: Overrides the cache folder.
CACHE_VARIABLE = "SOURCED_NEURON_CACHE"
#: The digest file of a folder entry (``sha256sum`` format: ``<hex>  <relative path>`` per line).
DIGESTS = "SHA256SUMS"
#: What to do when the cache folder is full or cannot be written.
HINT = (
    "run 'sourced-neuron cache clear' to remove the cache entries no process is using, "
    f"or set {CACHE_VARIABLE} to a folder you can write on a disk with room"
)
#: The problem reported for a folder entry without digests.
NO_DIGEST = f"it has no {DIGESTS} (its build was interrupted, or an older version wrote it)"

#: The state of a NEST module built before entries carried digests.
LEGACY = "no digests yet (an older version built it): checked and adopted on its next use"

#: The state of a toolchain folder named as by older versions (this version names it by a hash of its content).
UNUSED_TOOLCHAIN = "an older version wrote it; no longer used"

_TEMPORARY = re.compile(r"^(?P<name>.+)\.tmp(?P<pid>\d+)$")
_WORK = re.compile(r"^\.(?P<kind>build|removing)-(?P<name>.+)-(?P<pid>\d+)$")
_KEY = re.compile(r"^[0-9a-f]{64}$")
_STEP_HEADER = b"# sha256 "
_READ_LIMIT = 16 * 1024 * 1024  # digest files and stored steps are a few kB


class CacheWarning(UserWarning):
    """A cache entry was damaged (a file changed, truncated or missing): it is removed and rebuilt."""


def cache_root() -> Path:
    """The cache folder (``$SOURCED_NEURON_CACHE``, else the user's cache folder)."""
    if os.environ.get(CACHE_VARIABLE):
        return Path(os.environ[CACHE_VARIABLE])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sourced_neuron"


def notice(entry: Path, problem: str) -> None:
    """Warn (one line, :class:`CacheWarning`) that ``entry`` is damaged and will be rebuilt."""
    warnings.warn(f"cache entry {str(entry)!r} is damaged: {problem}; it is removed and rebuilt", CacheWarning, 3)


# --- storage errors -----------------------------------------------------------------------------


def storage_problem(exc: BaseException, path: Path) -> StorageError | None:
    """The :class:`StorageError` an ``OSError`` while writing ``path`` in the cache means (a
    full disk, a read-only folder, a file where the cache folder should be), or ``None``."""
    if not isinstance(exc, OSError) or isinstance(exc, StorageError):
        return None
    root = cache_root()
    what = f"the cache folder {str(root)!r}"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        for parent in (path, *path.parents):
            if parent.exists() and not parent.is_dir():
                return StorageError(
                    f"{what}: cannot write {str(path)!r}: {str(parent)!r} is a file, not a folder; "
                    f"remove it or set {CACHE_VARIABLE} to a folder you can write"
                )
        return None
    return storage_error(exc, path, what, HINT)


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Report an ``OSError`` of the block that means no room or no permission as a
    :class:`StorageError` naming the cache folder, ``path`` and what to do (other errors pass)."""
    try:
        yield
    except OSError as exc:
        # an error of a nested write (a file inside the entry being written) names this path
        cause = exc.__cause__ if isinstance(exc, StorageError) and isinstance(exc.__cause__, OSError) else exc
        error = storage_problem(cause, path)
        if error is None:
            raise
        raise error from cause


def write_file(path: Path, data: bytes | str) -> None:
    """Write ``path`` in the cache atomically (a ``.tmp<pid>`` file renamed into place).

    Raises
    ------
    StorageError
        The cache folder is full or cannot be written.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    temporary = path.with_name(f"{path.name}.tmp{os.getpid()}")
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            temporary.write_bytes(data)
            os.replace(temporary, path)
        finally:
            with contextlib.suppress(OSError):
                temporary.unlink()


# --- digests ------------------------------------------------------------------------------------


def file_digest(path: Path) -> str:
    """The SHA-256 of a file's content (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_digests(folder: Path, names: Iterable[str]) -> None:
    """Write ``folder/SHA256SUMS`` with the digest of each file ``names`` (relative to ``folder``)."""
    lines = [f"{file_digest(folder / name)}  {name}\n" for name in sorted(set(names))]
    write_file(folder / DIGESTS, "".join(lines))


def _read_limited(path: Path) -> bytes:
    with open(path, "rb") as handle:
        data = handle.read(_READ_LIMIT + 1)
    if len(data) > _READ_LIMIT:
        raise ValueError(f"larger than {_READ_LIMIT} bytes")
    return data


def _digest_lines(folder: Path) -> dict[str, str] | str:
    """Name -> digest from ``folder/SHA256SUMS``, or the problem."""
    try:
        data = _read_limited(folder / DIGESTS)
    except FileNotFoundError:
        return NO_DIGEST
    except (OSError, ValueError) as exc:
        return f"its {DIGESTS} is unreadable ({getattr(exc, 'strerror', None) or exc})"
    listed = {}
    try:
        for line in data.decode("utf-8").splitlines():
            digest, name = line.split("  ", 1)
            parts = Path(name).parts
            if not re.fullmatch(r"[0-9a-f]{64}", digest) or not parts or Path(name).is_absolute() or ".." in parts:
                raise ValueError(line)
            listed[name] = digest
    except ValueError:
        return f"its {DIGESTS} is not a digest list"
    return listed


def check_digests(folder: Path, required: Iterable[str] = ()) -> str | None:
    """Check every file listed in ``folder/SHA256SUMS`` against its digest.

    Returns ``None`` when the entry is intact, else what is wrong (a file missing, changed or
    truncated, the digest file missing or unreadable, a ``required`` file not covered).
    """
    listed = _digest_lines(folder)
    if isinstance(listed, str):
        return listed
    for name in required:
        if name not in listed:
            return f"{name} is not covered by its {DIGESTS}"
    for name, digest in listed.items():
        try:
            actual = file_digest(folder / name)
        except FileNotFoundError:
            return f"{name} is missing"
        except OSError as exc:
            return f"{name} is unreadable ({exc.strerror or exc})"
        if actual != digest:
            return f"{name} does not match its digest (changed or truncated)"
    return None


def elf_complete(path: Path) -> bool:
    """Whether ``path`` is an ELF file whose section headers (at its end) are all present: a
    cheap check that a shared library or program written before digests existed is not truncated."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(64)
            size = os.fstat(handle.fileno()).st_size
    except OSError:
        return False
    if len(header) < 52 or header[:4] != b"\x7fELF" or header[4] not in (1, 2) or header[5] not in (1, 2):
        return False
    order = "<" if header[5] == 1 else ">"
    if header[4] == 2:  # 64-bit
        if len(header) < 64:
            return False
        (offset,) = struct.unpack_from(order + "Q", header, 0x28)
        entry, count = struct.unpack_from(order + "HH", header, 0x3A)
    else:
        (offset,) = struct.unpack_from(order + "I", header, 0x20)
        entry, count = struct.unpack_from(order + "HH", header, 0x2E)
    return 0 < offset and offset + entry * count <= size


def store_text(path: Path, text: str) -> None:
    """Store ``text`` at ``path`` with its digest as the first line (see :func:`load_text`).

    Raises
    ------
    StorageError
        The cache folder is full or cannot be written.
    """
    data = text.encode("utf-8")
    write_file(path, _STEP_HEADER + hashlib.sha256(data).hexdigest().encode() + b"\n" + data)


def load_text(path: Path) -> str | None:
    """The text stored at ``path`` by :func:`store_text`, or ``None`` when there is none.

    A damaged file (digest missing or not matching, not UTF-8) is removed with a
    :class:`CacheWarning` and ``None`` is returned, so that the caller derives it again.
    """
    try:
        data = _read_limited(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError) as exc:
        problem = f"unreadable ({getattr(exc, 'strerror', None) or exc})"
    else:
        header, _, body = data.partition(b"\n")
        if not header.startswith(_STEP_HEADER):
            problem = "it has no digest line (an older version wrote it, or it was changed)"
        elif header[len(_STEP_HEADER) :].decode("ascii", "replace") != hashlib.sha256(body).hexdigest():
            problem = "its content does not match its digest (changed or truncated)"
        else:
            try:
                return body.decode("utf-8")
            except UnicodeDecodeError:
                problem = "its content is not UTF-8 text"
    notice(path, problem)
    with contextlib.suppress(OSError):
        path.unlink()
    return None


# --- locks --------------------------------------------------------------------------------------


class Lock:
    """A held ``flock`` lock on a lock file (released by :meth:`release` or ``with``)."""

    def __init__(self, path: Path, handle, shared: bool):
        self.path, self.handle, self.shared = path, handle, shared

    def release(self) -> None:
        """Release the lock (closing the file)."""
        if self.handle is not None:
            self.handle.close()
            self.handle = None

    def __enter__(self) -> Lock:
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()


def _open_lock(path: Path):
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EROFS, errno.EPERM):
            raise
        try:  # an existing lock file in a folder this process cannot write: a lock needs no write access
            descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            raise exc from None
    return os.fdopen(descriptor, "r+b" if os.access(path, os.W_OK) else "rb", buffering=0)


def acquire(path: Path, *, shared: bool = False, blocking: bool = True) -> Lock | None:
    """Lock ``path`` (created if missing): shared or exclusive, waiting or not.

    Returns the :class:`Lock`, or ``None`` when ``blocking`` is false and another process holds
    a conflicting lock. An exclusive holder writes its process id into the file. A lock file
    removed by :func:`clear_cache` while this process waited for it is opened again.

    Raises
    ------
    StorageError
        The lock file cannot be created (the cache folder is full or read-only).
    """
    mode = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if blocking else fcntl.LOCK_NB)
    while True:
        with writing(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = _open_lock(path)
        try:
            fcntl.flock(handle, mode)
        except BlockingIOError:
            handle.close()
            return None
        except BaseException:
            handle.close()
            raise
        try:
            same = os.path.samestat(os.fstat(handle.fileno()), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        handle.close()  # removed (and perhaps created again) while this process waited
    if not shared and handle.mode != "rb":
        with contextlib.suppress(OSError):
            os.ftruncate(handle.fileno(), 0)
            os.pwrite(handle.fileno(), f"{os.getpid()}\n".encode(), 0)
    return Lock(path, handle, shared)


def holders(path: Path) -> list[int]:
    """The other processes holding a lock on ``path`` (from Linux's ``/proc/locks``)."""
    try:
        info = os.stat(path)
    except OSError:
        return []
    inode = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    pids = set()
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/locks", encoding="ascii") as locks:
            for line in locks:
                fields = line.split()
                if len(fields) > 5 and fields[1] != "->" and fields[5] == inode:
                    pids.add(int(fields[4]))
    return sorted(pids - {os.getpid()})


def _who(paths: Iterable[Path]) -> str:
    """Who holds one of the locks ``paths`` (known to be held): /proc/locks, else the id the
    last exclusive holder wrote into the file."""
    pids = sorted({pid for path in paths for pid in holders(path)})
    if not pids:
        for path in paths:
            with contextlib.suppress(OSError, ValueError):
                pid = int(path.read_text().strip())
                if alive(pid):
                    pids.append(pid)
    return "pid " + ", ".join(map(str, sorted(set(pids)))) if pids else "another process"


# --- leftovers ----------------------------------------------------------------------------------


def _owner(path: Path) -> tuple[str, int] | None:
    """(``"build"``, ``"removing"`` or ``"write"``, pid) for a work folder or temporary file."""
    match = _WORK.match(path.name)
    if match:
        return match["kind"], int(match["pid"])
    match = _TEMPORARY.match(path.name)
    if match:
        return "write", int(match["pid"])
    return None


def _work_key(path: Path) -> str | None:
    match = _WORK.match(path.name)
    return match["name"] if match and match["kind"] == "build" and _KEY.match(match["name"]) else None


def _leftover(path: Path) -> bool:
    """Whether a work folder or temporary file belongs to no running process: its process is
    gone, or (a build) nobody holds its key's build lock."""
    owner = _owner(path)
    if owner is None:
        return False
    if not alive(owner[1]):
        return True
    key = _work_key(path)
    if key is not None and owner[1] != os.getpid():
        lock_path = path.parent / f"{key}.lock"
        if not lock_path.exists():
            return True
        with contextlib.suppress(StorageError):
            lock = acquire(lock_path, blocking=False)
            if lock is not None:  # its pid is alive, but as another process: nobody builds it
                lock.release()
                return True
    return False


def _size(path: Path) -> int:
    try:
        if path.is_symlink() or not path.is_dir():
            return path.lstat().st_size
        return sum(f.lstat().st_size for f in path.rglob("*") if not f.is_dir() or f.is_symlink())
    except OSError:
        return 0


def remove_tree(path: Path) -> None:
    """Remove a file or folder of the cache; a folder is first renamed to ``.removing-*-<pid>``,
    so that a half-removed entry never looks like an entry (and a killed removal is a leftover)."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
        return
    if not path.exists():
        return
    aside = path.with_name(f".removing-{path.name}-{os.getpid()}")
    try:
        path.rename(aside)
    except FileNotFoundError:
        return
    except OSError:
        aside = path
    shutil.rmtree(aside)


def remove_stale(folder: Path) -> list[Path]:
    """Remove the leftovers of processes that are gone in ``folder``; returns what was removed."""
    removed = []
    try:
        candidates = list(folder.iterdir())
    except OSError:
        return removed
    for path in candidates:
        if _leftover(path):
            with contextlib.suppress(OSError):
                remove_tree(path)
                removed.append(path)
    return removed


# --- listing and clearing -----------------------------------------------------------------------


@dataclass
class CacheEntry:
    """One thing in the cache folder.

    Attributes
    ----------
    kind : str
        ``"nest-module"``, ``"brian2-project"``, ``"steps"``, ``"toolchain"``, ``"build"`` (in
        progress), ``"failed-build"``, ``"leftover"`` (of a process that is gone) or ``"other"``.
    path : Path
    bytes : int
        Size on disk (files' sizes).
    problem : str or None
        For modules, projects and the toolchain: what is damaged (``None``: intact).
    users : list of int
        Processes holding its locks (building or using it).
    detail : dict
        For NEST modules, the manifest; for steps, the number of files; for builds and
        leftovers, ``pid``.
    locks : list of Path
        The lock files that guard it (taken, without waiting, by :func:`clear_cache`).
    """

    kind: str
    path: Path
    bytes: int
    problem: str | None = None
    users: list[int] = field(default_factory=list)
    detail: dict = field(default_factory=dict)
    locks: list[Path] = field(default_factory=list)


@dataclass
class ClearReport:
    """What :func:`clear_cache` removed and skipped (with the reason)."""

    removed: list[CacheEntry] = field(default_factory=list)
    skipped: list[tuple[CacheEntry, str]] = field(default_factory=list)

    @property
    def freed(self) -> int:
        """Bytes removed."""
        return sum(entry.bytes for entry in self.removed)


def _manifest(folder: Path) -> dict:
    try:
        data = json.loads(_read_limited(folder / "manifest.json"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _work_entry(path: Path) -> CacheEntry:
    kind, pid = _owner(path)  # type: ignore[misc]
    if _leftover(path):
        return CacheEntry("leftover", path, _size(path), detail={"pid": pid})
    if kind == "build":
        key = _work_key(path)
        locks = [path.parent / f"{key}.lock"] if key else []
        return CacheEntry("build", path, _size(path), users=[pid], detail={"pid": pid}, locks=locks)
    return CacheEntry("write", path, _size(path), users=[pid], detail={"pid": pid})


def _scan_nest(root: Path, verify: bool) -> list[CacheEntry]:
    folder = root / "nest"
    entries = []
    if not folder.is_dir():
        return entries
    for path in sorted(folder.iterdir()):
        if _owner(path):
            entries.append(_work_entry(path))
        elif path.name == "failed" and path.is_dir():
            for failed in sorted(path.iterdir()):
                if _owner(failed):
                    entries.append(_work_entry(failed))
                    continue
                locks = [folder / f"{failed.name}.lock"]
                entries.append(
                    CacheEntry(
                        "failed-build", failed, _size(failed), detail={"log": str(failed / "build.log")}, locks=locks
                    )
                )
        elif path.is_dir() and _KEY.match(path.name):
            locks = [folder / f"{path.name}.lock", folder / f"{path.name}.use"]
            problem = check_digests(path, ("manifest.json", f"sn{path.name[:16]}module.so")) if verify else None
            if problem == NO_DIGEST and _manifest(path):
                problem = LEGACY
            entries.append(
                CacheEntry(
                    "nest-module",
                    path,
                    _size(path),
                    problem,
                    [p for lock in locks for p in holders(lock)],
                    _manifest(path),
                    locks,
                )
            )
        elif path.suffix in (".lock", ".use") and _KEY.match(path.stem):
            if not (folder / path.stem).exists() and not any(folder.glob(f".build-{path.stem}-*")):
                entries.append(CacheEntry("lock", path, _size(path), users=holders(path), locks=[path]))
        else:
            entries.append(CacheEntry("other", path, _size(path)))
    return entries


def _scan_brian2(root: Path, verify: bool) -> list[CacheEntry]:
    entries = []
    base = root / "brian2"
    if not base.is_dir():
        return entries
    for device in sorted(p for p in base.iterdir() if p.is_dir()):
        for path in sorted(device.iterdir()):
            if _owner(path):
                entries.append(_work_entry(path))
            elif path.is_dir() and _KEY.match(path.name):
                lock = device / f"{path.name}.lock"
                problem = check_digests(path, ("main",)) if verify else None
                entries.append(
                    CacheEntry(
                        "brian2-project", path, _size(path), problem, holders(lock), {"device": device.name}, [lock]
                    )
                )
            elif path.suffix == ".lock" and _KEY.match(path.stem):
                if not (device / path.stem).exists():
                    entries.append(CacheEntry("lock", path, _size(path), users=holders(path), locks=[path]))
            else:
                entries.append(CacheEntry("other", path, _size(path)))
    return entries


def _scan_steps(root: Path) -> list[CacheEntry]:
    folder = root / "steps"
    if not folder.is_dir():
        return []
    entries, steps = [], []
    for path in sorted(folder.iterdir()):
        if _owner(path):
            entries.append(_work_entry(path))
        elif path.suffix == ".txt" and _KEY.match(path.stem):
            steps.append(path)
        else:
            entries.append(CacheEntry("other", path, _size(path)))
    if steps:
        entries.insert(0, CacheEntry("steps", folder, sum(map(_size, steps)), detail={"files": steps}))
    return entries


def _scan_toolchain(root: Path, verify: bool) -> list[CacheEntry]:
    folder = root / "toolchain"
    entries = []
    if not folder.is_dir():
        return entries
    for path in sorted(folder.iterdir()):
        if _owner(path):
            entries.append(_work_entry(path))
        elif path.is_dir() and path.name.startswith("nest-"):
            lock = folder / f"{path.name}.lock"
            problem = check_digests(path, ("bin/nest-config",)) if verify else None
            if not re.search(r"-[0-9a-f]{12}$", path.name):
                problem = UNUSED_TOOLCHAIN
            entries.append(CacheEntry("toolchain", path, _size(path), problem, holders(lock), locks=[lock]))
        elif path.suffix == ".lock" and path.name.startswith("nest-"):
            if not (folder / path.stem).exists():
                entries.append(CacheEntry("lock", path, _size(path), users=holders(path), locks=[path]))
        else:
            entries.append(CacheEntry("other", path, _size(path)))
    return entries


def cache_entries(verify: bool = True) -> list[CacheEntry]:
    """Everything in the cache folder: NEST modules, Brian2 standalone projects, stored steps,
    the NEST toolchain, builds in progress, failed builds and leftovers of processes that are gone.

    Parameters
    ----------
    verify : bool
        Check the digests of modules, projects and the toolchain (reads every file once).
    """
    root = cache_root()
    if not root.is_dir():
        return []
    entries = [
        *_scan_nest(root, verify),
        *_scan_brian2(root, verify),
        *_scan_steps(root),
        *_scan_toolchain(root, verify),
    ]
    for path in sorted(root.iterdir()):
        if _owner(path):
            entries.append(_work_entry(path))
        elif path.name not in ("nest", "brian2", "steps", "toolchain"):
            entries.append(CacheEntry("other", path, _size(path)))
    return entries


def _remove(entry: CacheEntry) -> None:
    if entry.kind == "steps":
        for path in entry.detail["files"]:
            path.unlink(missing_ok=True)
    else:
        remove_tree(entry.path)


def clear_cache() -> ClearReport:
    """Remove everything in the cache folder that no process is using.

    Each entry's locks are taken without waiting: an entry being built, run or used by another
    process is skipped (reported with the process id), never removed under it. Leftovers of
    processes that are gone are removed; files this package did not write are left alone.
    """
    report = ClearReport()
    for entry in cache_entries(verify=False):
        if entry.kind == "other":
            report.skipped.append((entry, "not written by sourced_neuron; left alone"))
            continue
        if entry.kind in ("build", "write"):
            report.skipped.append((entry, f"in progress: pid {entry.detail['pid']}"))
            continue
        held = []
        try:
            for path in entry.locks:
                lock = acquire(path, blocking=False)
                if lock is None:
                    report.skipped.append((entry, f"in use by {_who(entry.locks)}"))
                    break
                held.append(lock)
            else:
                try:
                    _remove(entry)
                    for lock in held:
                        lock.path.unlink(missing_ok=True)  # waiters open it again (see acquire)
                except OSError as exc:
                    report.skipped.append((entry, f"cannot remove it ({exc.strerror or exc})"))
                else:
                    report.removed.append(entry)
        except StorageError as exc:
            report.skipped.append((entry, str(exc)))
        finally:
            for lock in held:
                lock.release()
    for folder in (cache_root() / "nest" / "failed", *(cache_root() / "brian2").glob("*")):
        with contextlib.suppress(OSError):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
    return report


def no_room_error(doing: str, folder: Path) -> StorageError:
    """The :class:`StorageError` of ``doing`` (e.g. "compiling the project") in ``folder``
    failing for lack of room."""
    free = free_bytes(folder)
    shown = f" ({free / 1e6:.1f} MB free)" if free is not None else ""
    return StorageError(
        f"the cache folder {str(cache_root())!r}: {doing} in {str(folder)!r} failed: no space left on the "
        f"device{shown}. Free some space; {HINT}."
    )


def no_room(folder: Path, output: str = "") -> bool:
    """Whether a failed build in ``folder`` ran out of room: its output says so, or less than
    :data:`~sourced_neuron.common.files.MARGIN_BYTES` are free there."""
    if re.search(r"No space left on device|Disk quota exceeded|File too large", output):
        return True
    free = free_bytes(folder)
    return free is not None and free < MARGIN_BYTES
