"""The cache directory itself: private permissions, and the generation file that announces changes.

Standard library only: on every hit's import path (disk.py), and used by the disk ledger and
recorder.py for their own folders.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from pathlib import Path

from ...errors import Warn

__all__ = ["announce_change", "ensure_private_dir", "generation_file"]


def ensure_private_dir(path: Path, warn: Warn) -> None:
    """Make `path` a directory only its owner can use, or raise OSError.

    Creates it (and a missing parent) 0700. An existing directory we own with group/other bits is
    chmod-ed to 0700 (with a warning if it was world-writable). One owned by another user is refused
    with PermissionError: whoever can write it could plant entries (docs/reference.md#local-state).
    """
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.mkdir(mode=0o700, exist_ok=True)  # FileExistsError when a file is in the way
    st = path.stat()
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(f"{path} is not a directory")
    getuid = getattr(os, "getuid", None)
    if getuid is None:  # Windows: ACLs, not mode bits
        return
    if st.st_uid != getuid():
        raise PermissionError(f"{path} belongs to uid {st.st_uid}, not to this user")
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)
        if st.st_mode & 0o002:
            warn(f"cache: {path} was writable by every user; restricted it to its owner (0700)")


def generation_file(directory: Path) -> Path:
    """A file beside the cache at `directory`, rewritten with a new random token before every change
    to it (a store, a clear, an import, a repair): a kept review (replay.py) is checked against it, so
    it never outlives an answer it was built from."""
    return directory.with_name(directory.name + ".generation")


def announce_change(directory: Path) -> None:
    """Write a new random token to `generation_file(directory)`, atomically (a reader never sees half a
    token). Never raises: a change must not fail because it could not be announced."""
    target = generation_file(directory)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}")
    with contextlib.suppress(OSError):
        tmp.write_bytes(os.urandom(8).hex().encode())
        os.replace(tmp, target)
