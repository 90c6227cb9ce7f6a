"""Files and directories the node creates are private to its user: 0600 files, 0700 directories.

Every writer of node state (the bundle store and its payload files, the delivery ledger, the archive database,
the event log, the agent token) creates its files through these helpers, so the mode never depends on the
process umask. SQLite creates its `-wal` and `-shm` companions itself; `tighten_sqlite` sets their mode once the
database is open (docs/security.md, "Files on disk").
"""

from __future__ import annotations

import os
import pathlib
import stat

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_dir(path: str | os.PathLike) -> pathlib.Path:
    """Create `path` (and missing parents) as 0700 directories; an existing directory is left as it is."""
    p = pathlib.Path(path)
    if not p.is_dir():
        missing = [d for d in (p, *p.parents) if not d.exists()]
        for d in reversed(missing):
            try:
                os.mkdir(d, PRIVATE_DIR_MODE)
            except FileExistsError:
                continue
            os.chmod(d, PRIVATE_DIR_MODE)  # mkdir's mode is masked by the umask
    return p


def touch_private(path: str | os.PathLike) -> bool:
    """Create `path` as an empty 0600 file if it does not exist; returns True if it was created here."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)  # the open mode is masked by the umask; this is not
    finally:
        os.close(fd)
    return True


def open_private(path: str | os.PathLike, flags: int) -> int:
    """`os.open` that creates the file 0600 (never through a symlink); returns the descriptor."""
    fd = os.open(path, flags | os.O_NOFOLLOW, PRIVATE_FILE_MODE)
    if flags & os.O_CREAT:
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) & 0o077:
            os.fchmod(fd, PRIVATE_FILE_MODE)  # new (the umask applied) or left open by an older release
    return fd


def tighten_sqlite(path: str | os.PathLike) -> None:
    """Give a database of this user, and SQLite's companion files beside it, mode 0600 (an older, wider mode
    is tightened)."""
    for suffix in ("", *SQLITE_COMPANIONS):
        candidate = f"{os.fspath(path)}{suffix}"
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) & 0o077:
            os.chmod(candidate, PRIVATE_FILE_MODE)
