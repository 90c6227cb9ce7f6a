"""dtn.node.agentauth and dtn.node.exposure: token files, reading a file with a caller's rights, warnings."""

from __future__ import annotations

import os
import stat

import pytest

from dtn.errors import ConfigError, DtnError
from dtn.node.agentauth import (
    FileRefused,
    PeerCred,
    default_token_path,
    ensure_token,
    read_file_as,
    read_token,
    token_matches,
)
from dtn.node.config import parse_config
from dtn.node.exposure import is_loopback, plaintext_warnings

OTHER = PeerCred(pid=1, uid=54321, gid=54321, groups=frozenset({54321}))


def me() -> PeerCred:
    return PeerCred(
        pid=os.getpid(), uid=os.geteuid(), gid=os.getegid(), groups=frozenset(os.getgroups()) | {os.getegid()}
    )


def test_token_created_private_once_and_read_back(tmp_path):
    path = tmp_path / "state" / "t.token"
    token = ensure_token(path)
    assert len(token) == 64 and ensure_token(path) == token == read_token(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert token_matches(token, token.decode()) and not token_matches(token, "x" * 64)
    assert not token_matches(token, None) and not token_matches(token, 12)
    os.chmod(path, 0o644)
    with pytest.raises(DtnError, match="readable by others"):
        ensure_token(path)


def test_default_token_path_follows_the_state_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("DTN_STATE_DIR", str(tmp_path))
    assert default_token_path("127.0.0.1", 4711) == tmp_path / "agent-4711.token"
    assert default_token_path("::1", 4711) == default_token_path("localhost", 4711)


@pytest.fixture
def open_dir():
    """A directory every user may search (pytest's tmp_path is under a 0700 directory)."""
    import pathlib
    import shutil
    import tempfile

    path = pathlib.Path(tempfile.mkdtemp(prefix="dtn-auth-", dir="/tmp"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_read_file_as_the_caller(open_dir):
    tmp_path = open_dir
    public = tmp_path / "public.bin"
    public.write_bytes(b"p" * 5000)
    os.chmod(public, 0o644)
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"s")
    os.chmod(secret, 0o600)
    assert read_file_as(str(public), me(), 10_000) == b"p" * 5000
    assert read_file_as(str(public), OTHER, 10_000) == b"p" * 5000
    assert read_file_as(str(secret), me(), 10) == b"s"
    with pytest.raises(FileRefused, match="permission denied"):
        read_file_as(str(secret), OTHER, 10)
    with pytest.raises(FileRefused, match="exceeds the limit"):
        read_file_as(str(public), me(), 4999)
    hidden = tmp_path / "hidden"
    hidden.mkdir(mode=0o700)
    os.chmod(hidden, 0o700)
    inside = hidden / "readable.bin"
    inside.write_bytes(b"r")
    os.chmod(inside, 0o644)
    with pytest.raises(FileRefused, match="permission denied"):  # the directory stops the caller
        read_file_as(str(inside), OTHER, 10)
    link = tmp_path / "link"
    link.symlink_to(secret)
    with pytest.raises(FileRefused, match="permission denied"):  # a link reaches nothing the caller can't
        read_file_as(str(link), OTHER, 10)
    assert read_file_as(str(link), me(), 10) == b"s"
    for bad, why in (
        ("relative.bin", "absolute"),
        ("/dev/null", "character device"),
        (str(tmp_path), "directory"),
        (str(tmp_path / "nope"), "No such file"),
    ):
        with pytest.raises(FileRefused, match=why):
            read_file_as(bad, me(), 10)


def test_config_keys(tmp_path):
    cfg = parse_config(
        {"node": {"id": "ipn:1.0"}, "agent": {"tcp": "127.0.0.1:4711", "token_file": "a.token"}}, base_dir=tmp_path
    )
    assert cfg.agent.token_file == tmp_path / "a.token"
    with pytest.raises(ConfigError) as info:
        parse_config({"node": {"id": "ipn:1.0"}, "agent": {"token_file": "a.token"}}, base_dir=tmp_path)
    assert info.value.key == "agent.token_file"


def test_plaintext_listener_warnings():
    assert is_loopback("127.0.0.5") and is_loopback("::1") and is_loopback("[::1]") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("192.0.2.1")
    quiet = parse_config({"node": {"id": "ipn:1.0"}, "listen": [{"host": "127.0.0.1", "port": 4556}]})
    assert plaintext_warnings(quiet) == []
    loud = parse_config(
        {
            "node": {"id": "ipn:1.0"},
            "listen": [{"host": "0.0.0.0", "port": 4556}, {"cla": "mtcp", "host": "192.0.2.1", "port": 4557}],
            "metrics": {"address": "0.0.0.0:9100"},
        }
    )
    warnings = plaintext_warnings(loud)
    assert len(warnings) == 3
    assert "no TLS" in warnings[0] and "0.0.0.0:4556" in warnings[0]
    assert "MTCP" in warnings[1] and "metrics" in warnings[2]
