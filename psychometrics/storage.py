"""Atomic file writes: readers see the old content or the new one, never a partial file.

Instruments, item banks, reports and score tables are all written the same way: into a
temporary file in the target's folder (the same file system, so the final rename is atomic),
flushed to disk, then renamed over the target with :func:`os.replace`. If anything fails on
the way (a full disk, an interrupt), the temporary file is removed and the previous file is
untouched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text"]


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[Any]], Any], *,
                 binary: bool = False) -> Path:
    """Write ``path`` atomically through a callback that fills an open file.

    Parameters
    ----------
    path : str or path
        The file to create or replace. Its folder must exist.
    write : callable
        ``write(handle)`` writes the content into ``handle`` (for example
        ``lambda handle: frame.to_csv(handle)``), a text handle in UTF-8 without newline
        translation, or a binary handle when ``binary`` is true.
    binary : bool
        Open the temporary file in binary mode.

    Returns
    -------
    Path
        ``path``.

    Notes
    -----
    An existing file keeps its permission bits; a new file gets the mode a plain
    :func:`open` would give it (``0o666`` less the umask), not :func:`tempfile.mkstemp`'s
    private ``0o600``.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {str(path)!r}: folder {str(folder)!r} does not exist")
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        if binary:
            handle = os.fdopen(descriptor, "wb")
        else:
            handle = os.fdopen(descriptor, "w", encoding="utf-8", newline="")
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, _target_mode(path))
        os.replace(temporary, path)
    except BaseException:
        # BaseException: an interrupt must not leave the temporary file behind either
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8, newlines as given) to ``path`` atomically; see :func:`atomic_write`."""
    return atomic_write(path, lambda handle: handle.write(text))


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; see :func:`atomic_write`."""
    return atomic_write(path, lambda handle: handle.write(data), binary=True)


def _target_mode(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        # the umask can only be read by setting it; it is put back at once
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask
