"""dtn/bpv7/jsonform.py: the JSON form is an exact inverse of the binary form."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings

from dtn.bpv7 import decode, encode
from dtn.bpv7.jsonform import from_json, to_json
from dtn.bpv7.testing import bundles
from dtn.errors import DecodeError
from tests.bpv7.vectors import RFC9173_A1_WITH_BIB
from tests.conftest import examples


@settings(max_examples=examples(60))
@given(bundles(max_payload_bytes=256))
def test_json_round_trip_is_byte_exact(bundle):
    data = encode(bundle)
    obj = json.loads(json.dumps(to_json(decode(data))))
    # Our encodings are canonical, so no exact-bytes field is needed.
    assert "encoding_hex" not in obj["primary"] and all("encoding_hex" not in b for b in obj["blocks"])
    assert encode(from_json(obj)) == data


def test_non_canonical_encodings_travel_in_encoding_hex():
    primary = bytes.fromhex("9f070000820282180201820282010182010082190 3e8001a0036ee80ff".replace(" ", ""))
    block = b"\x9f\x01\x01\x00\x00\x41x\xff"
    data = b"\x9f" + primary + block + b"\xff"
    obj = to_json(decode(data))
    assert obj["primary"]["encoding_hex"] == primary.hex()
    assert obj["blocks"][0]["encoding_hex"] == block.hex()
    assert encode(from_json(obj)) == data
    obj["blocks"][0]["data_hex"] = "79"
    with pytest.raises(DecodeError, match="does not match"):
        from_json(obj)


def test_rfc9173_vector_round_trips_through_json():
    data = bytes.fromhex(RFC9173_A1_WITH_BIB)
    assert encode(from_json(to_json(decode(data)))) == data


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda o: o.pop("blocks"), "'blocks' list"),
        (lambda o: o["primary"].pop("source"), "missing key 'source'"),
        (lambda o: o["primary"].update(source="ipn:x"), "invalid EID"),
        (lambda o: o["primary"].update(lifetime_ms=-1), "unsigned integer"),
        (lambda o: o["primary"].update(crc_type=7), "crc_type"),
        (lambda o: o["blocks"][0].update(data_hex="zz"), "not valid hex"),
        (lambda o: o["blocks"].append(3), "expected an object"),
    ],
)
def test_bad_json_names_the_path(mutate, message):
    from dtn.bpv7 import Bundle

    obj = to_json(Bundle.create("ipn:1.1", "ipn:2.1", b"x", creation_time_ms=1))
    mutate(obj)
    with pytest.raises(DecodeError, match=message):
        from_json(obj)
