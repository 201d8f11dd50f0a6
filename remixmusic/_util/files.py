"""Atomic file output and content hashing.

Every file remixmusic writes goes to a temporary name in the destination folder and is renamed into place
only when complete, so an interrupted run never leaves a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Reading the umask means setting it for a moment, which races with threads creating files: read it once.
_UMASK = _current_umask()


def umask() -> int:
    """The process umask (permission bits, e.g. ``0o022``) as it was when remixmusic was imported: what
    files and folders that remixmusic creates privately (``mkstemp``, ``mkdtemp``) are ``chmod``-ed by to
    get the usual permissions, ``0o666 & ~umask()`` for files and ``0o777 & ~umask()`` for folders.
    Raises nothing."""
    return _UMASK


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary sibling of ``path`` for writing; rename it over ``path`` on success only."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~umask())  # mkstemp makes 0600; outputs get the usual permissions
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """A new temporary sibling folder of ``path`` (named ``.NAME.*.tmp``) to fill; when the block ends
    without an error it replaces ``path`` as a whole, so a reader never sees a mix of old and new files.

    An existing ``path`` is moved aside first and removed after the swap, or put back if the swap fails;
    after any error the temporary folder is removed and ``path`` is as it was. The folder gets the usual
    permissions (``0o777 & ~umask()``). Checking that ``path`` may be replaced is the caller's job.

    Raises:
        OSError: the folder cannot be created or renamed (``path`` is then unchanged).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        tmp.chmod(0o777 & ~umask())  # mkdtemp makes it private
        yield tmp
        _swap_into_place(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap_into_place(tmp: Path, path: Path) -> None:
    """Rename the finished folder ``tmp`` to ``path``; an existing ``path`` is moved aside first."""
    if not path.exists():
        os.replace(tmp, path)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
    os.replace(path, old / path.name)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.replace(old / path.name, path)  # put the previous one back
        old.rmdir()
        raise
    shutil.rmtree(old, ignore_errors=True)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` as UTF-8, atomically; a character UTF-8 cannot hold (a file name's undecodable
    byte kept by Python as a lone surrogate) is written as its ``\\udcXX`` escape, never an error."""
    write_bytes(path, utf8(text))


def utf8(text: str) -> bytes:
    """``text`` as UTF-8 bytes (see :func:`write_text` for lone surrogates)."""
    return text.encode("utf-8", "backslashreplace")


def json_text(obj: Any) -> str:
    """``obj`` as the JSON text :func:`write_json` writes (indented, numpy values as plain ones)."""
    return json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n"


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, json_text(obj))


def _json_default(obj: Any) -> Any:
    # numpy scalars and arrays appear in results everywhere; JSON should not choke on them.
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
