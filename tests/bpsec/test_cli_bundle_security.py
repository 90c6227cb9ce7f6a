"""`dtn bundle sign|verify|encrypt|decrypt` (dtn/cli/bundle_security.py): files in, files out, exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dtn.cli import main
from tests.bpsec import rfc9173_vectors as v


@pytest.fixture
def files(tmp_path):
    (tmp_path / "orig.bin").write_bytes(v.ORIGINAL_BUNDLE)
    (tmp_path / "hmac.key").write_text(v.A1_KEY.hex() + "\n")
    (tmp_path / "aes.key").write_bytes(v.A4_BCB_KEY)  # raw 32 bytes
    (tmp_path / "kek.key").write_text("# key-encryption key\n" + v.A2_KEY_ENCRYPTION_KEY.hex())
    return tmp_path


def run(*args: str) -> int:
    return main(["bundle", *args])


def test_sign_verify_accept_round_trip(files, capsys):
    d = files
    assert (
        run(
            "sign",
            str(d / "orig.bin"),
            "--key-file",
            str(d / "hmac.key"),
            "--sha",
            "512",
            "--scope",
            "0",
            "--source",
            "ipn:2.1",
            "-o",
            str(d / "signed.bin"),
        )
        == 0
    )
    assert (d / "signed.bin").read_bytes() == v.A1_BUNDLE  # RFC 9173 A.1, from the command line
    assert run("verify", str(d / "signed.bin"), "--key-file", str(d / "hmac.key")) == 0
    assert "ok  block 1" in capsys.readouterr().err
    assert (
        run(
            "verify",
            str(d / "signed.bin"),
            "--key-file",
            str(d / "hmac.key"),
            "--accept",
            "-o",
            str(d / "accepted.bin"),
        )
        == 0
    )
    assert (d / "accepted.bin").read_bytes() == v.ORIGINAL_BUNDLE


def test_encrypt_decrypt_with_wrap(files):
    d = files
    assert (
        run(
            "encrypt",
            str(d / "orig.bin"),
            "--key-file",
            str(d / "kek.key"),
            "--wrap",
            "--aes",
            "128",
            "-o",
            str(d / "enc.bin"),
        )
        == 0
    )
    assert v.PAYLOAD not in (d / "enc.bin").read_bytes()
    assert run("decrypt", str(d / "enc.bin"), "--key-file", str(d / "kek.key"), "-o", str(d / "dec.bin")) == 0
    assert (d / "dec.bin").read_bytes() == v.ORIGINAL_BUNDLE


def test_failures_are_one_line_and_exit_2(files, capsys):
    d = files
    run("encrypt", str(d / "orig.bin"), "--key-file", str(d / "aes.key"), "-o", str(d / "enc.bin"))
    capsys.readouterr()
    wrong = d / "wrong.key"
    wrong.write_text("00" * 32)
    for args in (
        ("decrypt", str(d / "enc.bin"), "--key-file", str(wrong), "-o", str(d / "x.bin")),
        ("verify", str(d / "orig.bin"), "--key-file", str(d / "hmac.key")),
        ("sign", str(d / "orig.bin"), "--key-file", str(d / "missing.key"), "-o", str(d / "x.bin")),
        ("sign", str(d / "orig.bin"), "--key-file", str(d / "hmac.key"), "--target", "7", "-o", str(d / "x.bin")),
        ("encrypt", str(d / "orig.bin"), "--key-file", str(d / "hmac.key"), "-o", str(d / "x.bin")),
        ("verify", str(d / "hmac.key"), "--key-file", str(d / "hmac.key")),
        ("verify", str(d / "orig.bin"), "--key-file", str(d / "hmac.key"), "--accept"),
    ):
        assert run(*args) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("dtn: error:") and err.count("\n") == 1, err
        assert v.A1_KEY.hex() not in err


def test_real_process_pipeline_through_stdin_and_stdout(files):
    """sign | encrypt | decrypt | verify --accept, as separate `dtn` processes connected by pipes."""
    d = files
    dtn = [sys.executable, "-m", "dtn"]
    sign = subprocess.run(
        [
            *dtn,
            "bundle",
            "sign",
            "-",
            "--key-file",
            str(d / "hmac.key"),
            "--target",
            "primary",
            "--target",
            "payload",
            "-o",
            "-",
        ],
        input=v.ORIGINAL_BUNDLE,
        capture_output=True,
        check=True,
    )
    enc = subprocess.run(
        [*dtn, "bundle", "encrypt", "-", "--key-file", str(d / "aes.key"), "-o", "-"],
        input=sign.stdout,
        capture_output=True,
        check=True,
    )
    bad = bytearray(enc.stdout)
    bad[-3] ^= 0x80
    failed = subprocess.run(
        [*dtn, "bundle", "decrypt", "-", "--key-file", str(d / "aes.key"), "-o", "-"],
        input=bytes(bad),
        capture_output=True,
    )
    assert failed.returncode == 2 and b"Traceback" not in failed.stderr
    dec = subprocess.run(
        [*dtn, "bundle", "decrypt", "-", "--key-file", str(d / "aes.key"), "-o", "-"],
        input=enc.stdout,
        capture_output=True,
        check=True,
    )
    out = d / "final.bin"
    subprocess.run(
        [*dtn, "bundle", "verify", "-", "--key-file", str(d / "hmac.key"), "--accept", "-o", str(out)],
        input=dec.stdout,
        capture_output=True,
        check=True,
    )
    assert out.read_bytes() == v.ORIGINAL_BUNDLE
