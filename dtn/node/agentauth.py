"""Who is calling the agent, and what they may make the node read (docs/security.md).

- The loopback TCP agent socket has no notion of a caller, so it needs a secret: a token file (32 random
  bytes, hex) the node creates 0600 at its first start. A client proves it can read that file by sending its
  contents in `hello`; until then every op is refused. Clients find the file at `default_token_path(host, port)`
  unless told otherwise (`token_file`, `DTN_AGENT_TOKEN_FILE`).
- On the Unix socket the kernel tells us who the caller is (SO_PEERCRED, and its groups by SO_PEERGROUPS where
  the kernel has it). Only the node's own user (and root) may use it. A `file=` parameter is read only when the
  caller could read that file itself: every directory on its path searchable and the file readable by the
  caller's uid/gids, a regular file, at most `agent.max_message_bytes`, read in bounded chunks.
"""

from __future__ import annotations

import hmac
import os
import pathlib
import secrets
import socket
import stat
import struct
import sys
from dataclasses import dataclass

from dtn.errors import DtnError
from dtn.fsmode import PRIVATE_FILE_MODE, open_private, private_dir

TOKEN_BYTES = 32
READ_CHUNK_BYTES = 1 << 20
_CRED = struct.Struct("3i")  # struct ucred: pid, uid, gid
# SO_PEERGROUPS (Linux >= 4.13, unix(7)); Python's socket module does not name it.
_SO_PEERGROUPS = getattr(socket, "SO_PEERGROUPS", 59 if sys.platform.startswith("linux") else None)


class FileRefused(DtnError):
    """A `file=` parameter the node will not read for this caller (answered with code bad_request)."""


# -- the token ---------------------------------------------------------------------------------------------------


def state_dir() -> pathlib.Path:
    """Where per-user agent tokens live: $DTN_STATE_DIR, else $XDG_STATE_HOME/spacedtn, else ~/.local/state/spacedtn."""
    if os.environ.get("DTN_STATE_DIR"):
        return pathlib.Path(os.environ["DTN_STATE_DIR"])
    if os.environ.get("XDG_STATE_HOME"):
        return pathlib.Path(os.environ["XDG_STATE_HOME"]) / "spacedtn"
    return pathlib.Path.home() / ".local" / "state" / "spacedtn"


def default_token_path(host: str, port: int) -> pathlib.Path:
    """The token file a node listening on host:port writes when `agent.token_file` is not set. The agent listens
    on loopback only, so the port alone names it (127.0.0.1, ::1 and localhost find the same file)."""
    return state_dir() / f"agent-{int(port)}.token"


def ensure_token(path: str | os.PathLike) -> bytes:
    """The node's side: read the token at `path`, creating it (0600, directory 0700) at the first start.

    A token file that others could read is no secret: it is refused (ConfigError-like DtnError)."""
    p = pathlib.Path(path)
    if not p.parent.exists():
        private_dir(p.parent)
    try:
        fd = open_private(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    except FileExistsError:
        return read_token(p, owner_check=True)
    except OSError as exc:
        raise DtnError(f"cannot create the agent token file {p}: {exc.strerror or exc}") from None
    token = secrets.token_hex(TOKEN_BYTES).encode("ascii")
    try:
        os.write(fd, token + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return token


def read_token(path: str | os.PathLike, *, owner_check: bool = False) -> bytes:
    """The token in `path` (clients, and the node on later starts)."""
    p = pathlib.Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise DtnError(f"cannot read the agent token file {p}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise DtnError(f"agent token file {p} is not a regular file")
        if owner_check:
            if st.st_uid != os.geteuid():
                raise DtnError(f"agent token file {p} belongs to uid {st.st_uid}, not to this node's user")
            if stat.S_IMODE(st.st_mode) & 0o077:
                raise DtnError(
                    f"agent token file {p} is readable by others (mode {stat.S_IMODE(st.st_mode):o}); "
                    f"chmod {PRIVATE_FILE_MODE:o} it or delete it to get a new one"
                )
        data = os.read(fd, 4096).strip()
    finally:
        os.close(fd)
    if len(data) < 32:
        raise DtnError(f"agent token file {p} holds no token (at least 32 characters)")
    return data


def token_matches(expected: bytes, given: object) -> bool:
    if isinstance(given, str):
        given = given.encode("utf-8", "surrogateescape")
    if not isinstance(given, bytes):
        return False
    return hmac.compare_digest(expected, given)


# -- the Unix socket caller --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PeerCred:
    """The process at the other end of a Unix socket, as the kernel reports it."""

    pid: int
    uid: int
    gid: int
    groups: frozenset[int]

    @property
    def trusted(self) -> bool:
        """The node's own user, or root, may use the agent."""
        return self.uid in (os.geteuid(), 0)


def peer_credentials(sock) -> PeerCred | None:
    """SO_PEERCRED (+ SO_PEERGROUPS) of a connected AF_UNIX socket (a `socket.socket` or `trio.socket`); None
    where the platform does not report them."""
    if not hasattr(socket, "SO_PEERCRED"):
        return None
    try:
        pid, uid, gid = _CRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size))
    except OSError:
        return None
    groups = {gid}
    if _SO_PEERGROUPS is not None:
        size = 64 * 4
        while size <= 65536 * 4:
            try:
                raw = sock.getsockopt(socket.SOL_SOCKET, _SO_PEERGROUPS, size)
            except OSError as exc:
                if exc.errno == 34:  # ERANGE: more groups than the buffer holds
                    size *= 4
                    continue
                break  # unknown here: the primary group only (stricter, never looser)
            groups.update(struct.unpack(f"{len(raw) // 4}I", raw[: len(raw) // 4 * 4]))
            break
    return PeerCred(pid, uid, gid, frozenset(groups))


def _allowed(st: os.stat_result, cred: PeerCred, want: int) -> bool:
    """POSIX permission bits for `cred` (want: 4 read, 1 search). Root passes (CAP_DAC_OVERRIDE); ACLs are not
    consulted, so a file readable only through an ACL entry is refused (stricter, never looser)."""
    if cred.uid == 0:
        return True
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid == cred.uid:
        bits = mode >> 6
    elif st.st_gid in cred.groups:
        bits = mode >> 3
    else:
        bits = mode
    return bool(bits & want)


def read_file_as(path: str, cred: PeerCred, max_bytes: int) -> bytes:
    """Read `path` for the caller `cred`: refused unless the caller could read it itself, it is a regular
    file, and it holds at most `max_bytes`. Runs in a worker thread; never blocks on a FIFO or a device
    (neither is opened) and never holds more than `max_bytes` + one chunk."""
    if not path.startswith("/"):
        raise FileRefused(f"file: {path!r} is not an absolute path")
    if "\x00" in path:
        raise FileRefused("file: a path cannot contain NUL")
    real = os.path.realpath(path)
    parts = [part for part in real.split("/") if part]
    if not parts:
        raise FileRefused(f"file: {path} is not a regular file")
    try:
        dir_fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise FileRefused(f"file: cannot open /: {exc.strerror}") from None
    try:
        # Walk the resolved path one component at a time, never following a link, so that what is checked
        # is what is read even if the path changes meanwhile.
        for name in parts[:-1]:
            if not _allowed(os.fstat(dir_fd), cred, 1):
                raise FileRefused(f"file: {path}: permission denied (for the caller)")
            try:
                next_fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
            except OSError as exc:
                raise FileRefused(f"file: cannot read {path}: {exc.strerror or exc}") from None
            os.close(dir_fd)
            dir_fd = next_fd
        if not _allowed(os.fstat(dir_fd), cred, 1):
            raise FileRefused(f"file: {path}: permission denied (for the caller)")
        try:
            before = os.stat(parts[-1], dir_fd=dir_fd, follow_symlinks=False)
        except OSError as exc:
            raise FileRefused(f"file: cannot read {path}: {exc.strerror or exc}") from None
        if not stat.S_ISREG(before.st_mode):
            raise FileRefused(f"file: {path} is not a regular file ({_kind(before.st_mode)})")
        if not _allowed(before, cred, 4):
            raise FileRefused(f"file: {path}: permission denied (for the caller)")
        if before.st_size > max_bytes:
            raise FileRefused(f"file: {path}: {before.st_size} bytes exceeds the limit of {max_bytes} bytes")
        try:
            fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY, dir_fd=dir_fd)
        except OSError as exc:
            raise FileRefused(f"file: cannot read {path}: {exc.strerror or exc}") from None
    finally:
        os.close(dir_fd)
    try:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (before.st_dev, before.st_ino) or not stat.S_ISREG(st.st_mode):
            raise FileRefused(f"file: {path} changed while it was checked")
        if not _allowed(st, cred, 4):
            raise FileRefused(f"file: {path}: permission denied (for the caller)")
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(READ_CHUNK_BYTES, max_bytes + 1 - total))
            if not chunk:
                break
            total += len(chunk)
            if total > max_bytes:
                raise FileRefused(f"file: {path}: more than the limit of {max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise FileRefused(f"file: cannot read {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return name
    return "not a regular file"
