"""dtn/cli/bundle.py: `dtn bundle create|show|validate|decode|encode`, in process and as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dtn.bpv7 import BundleFlag, CrcType, decode
from dtn.cli import main
from tests.bpv7.vectors import RFC9173_A1_ORIGINAL


@pytest.fixture
def payload_file(tmp_path):
    path = tmp_path / "msg.txt"
    path.write_bytes(b"hello from orbit")
    return path


def _create(tmp_path, payload_file, *extra) -> bytes:
    out = tmp_path / "b.bin"
    argv = [
        "bundle",
        "create",
        "--src",
        "ipn:1.1",
        "--dst",
        "ipn:2.1",
        "--payload-file",
        str(payload_file),
        "-o",
        str(out),
        *extra,
    ]
    assert main(argv) == 0
    return out.read_bytes()


def test_create_with_options(tmp_path, payload_file):
    data = _create(
        tmp_path,
        payload_file,
        "--crc",
        "16",
        "--lifetime",
        "2h",
        "--report-to",
        "ipn:1.0",
        "--flags",
        "report-delivery,STATUS_TIME_REQUESTED",
        "--hop-limit",
        "7",
        "--creation-time-ms",
        "123",
        "--sequence",
        "4",
    )
    bundle = decode(data)
    p = bundle.primary
    assert (str(p.source), str(p.destination), str(p.report_to)) == ("ipn:1.1", "ipn:2.1", "ipn:1.0")
    assert p.crc_type == CrcType.CRC16 and p.lifetime_ms == 7_200_000
    assert p.flags == BundleFlag.REPORT_DELIVERY | BundleFlag.STATUS_TIME_REQUESTED
    assert (p.creation_time_ms, p.sequence) == (123, 4)
    assert bundle.hop_count == (7, 0) and bytes(bundle.payload) == b"hello from orbit"


def test_create_defaults_to_now_and_crc32(tmp_path, payload_file):
    bundle = decode(_create(tmp_path, payload_file))
    assert bundle.primary.crc_type == CrcType.CRC32C and bundle.primary.creation_time_ms > 700_000_000_000


def test_show_and_validate(tmp_path, payload_file, capsys):
    _create(tmp_path, payload_file, "--hop-limit", "3")
    assert main(["bundle", "show", str(tmp_path / "b.bin")]) == 0
    out = capsys.readouterr().out
    assert "ipn:2.1" in out and "HOP_COUNT" in out and "hello from orbit" in out
    assert main(["bundle", "validate", str(tmp_path / "b.bin")]) == 0
    assert "valid" in capsys.readouterr().out


def test_validate_lists_problems_exit_1(tmp_path, capsys):
    path = tmp_path / "a1.bin"
    path.write_bytes(bytes.fromhex(RFC9173_A1_ORIGINAL))
    assert main(["bundle", "validate", str(path)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and "no CRC" in lines[0] and "Bundle Age" in lines[1]


def test_decode_encode_are_inverses(tmp_path, payload_file, capsys):
    data = _create(tmp_path, payload_file, "--hop-limit", "3", "--crc", "0")
    assert main(["bundle", "decode", str(tmp_path / "b.bin"), "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["primary"]["destination"] == "ipn:2.1" and obj["primary"]["fragment_offset"] is None
    assert obj["blocks"][-1]["type"] == 1 and obj["blocks"][-1]["data_hex"] == b"hello from orbit".hex()
    (tmp_path / "b.json").write_text(json.dumps(obj))
    assert main(["bundle", "encode", str(tmp_path / "b.json"), "-o", str(tmp_path / "c.bin")]) == 0
    assert (tmp_path / "c.bin").read_bytes() == data


@pytest.mark.parametrize(
    "argv_tail, content, needle",
    [
        (["show"], b"\x9f\x88\x07", "at byte 1"),
        (["validate"], b"\x00", "at byte 0"),
        (["decode"], b"", "empty input"),
        (["encode", "-o", "/dev/null"], b"{not json", "not valid JSON"),
        (["encode", "-o", "/dev/null"], b'{"primary": {}, "blocks": []}', "missing key"),
    ],
)
def test_malformed_input_one_line_exit_2(tmp_path, capsys, argv_tail, content, needle):
    path = tmp_path / "bad"
    path.write_bytes(content)
    verb, *rest = argv_tail
    assert main(["bundle", verb, str(path), *rest]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and err.startswith("dtn: error:")


def test_bad_options_exit_2(tmp_path, payload_file, capsys):
    for extra in (["--lifetime", "soon"], ["--flags", "bogus"], ["--hop-limit", "0"]):
        out = tmp_path / "x.bin"
        argv = [
            "bundle",
            "create",
            "--src",
            "ipn:1.1",
            "--dst",
            "ipn:2.1",
            "--payload-file",
            str(payload_file),
            "-o",
            str(out),
            *extra,
        ]
        assert main(argv) == 2
        assert capsys.readouterr().err.count("\n") == 1


def test_real_process_truncated_bundle(tmp_path, payload_file):
    data = _create(tmp_path, payload_file)
    (tmp_path / "cut.bin").write_bytes(data[:-5])
    result = subprocess.run(
        [sys.executable, "-m", "dtn", "bundle", "show", str(tmp_path / "cut.bin")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr and "byte" in result.stderr


def test_help_has_example(capsys):
    with pytest.raises(SystemExit):
        main(["bundle", "create", "--help"])
    assert "example:" in capsys.readouterr().out
