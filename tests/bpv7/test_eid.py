"""dtn/bpv7/eid.py: parsing, canonical text, CBOR forms (RFC 9171 §4.2.5.1, RFC 9758)."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given

from dtn.bpv7 import DTN_NONE, DtnEID, IpnEID, eid_from_cbor, parse_eid
from dtn.bpv7.testing import eids
from dtn.errors import DecodeError


@pytest.mark.parametrize(
    "text, cbor, node_id, node_number",
    [
        ("dtn:none", [1, 0], "dtn:none", None),
        ("dtn://gs1/inbox", [1, "//gs1/inbox"], "dtn://gs1/", None),
        ("dtn://sat-7.leo/", [1, "//sat-7.leo/"], "dtn://sat-7.leo/", None),
        ("dtn://n/a/b/~c", [1, "//n/a/b/~c"], "dtn://n/", None),
        ("ipn:2.1", [2, [2, 1]], "ipn:2.0", 2),
        ("ipn:0.2.1", [2, [0, 2, 1]], "ipn:0.2.0", 2),
        ("ipn:977.5.1", [2, [977, 5, 1]], "ipn:977.5.0", (977 << 32) | 5),
        ("ipn:18446744073709551615.18446744073709551615", [2, [2**64 - 1, 2**64 - 1]], None, 2**64 - 1),
    ],
)
def test_text_and_cbor_forms(text, cbor, node_id, node_number):
    eid = parse_eid(text)
    assert str(eid) == text
    assert eid.to_cbor() == cbor
    assert eid_from_cbor(cbor2.loads(cbor2.dumps(cbor))) == eid
    assert eid.node_number == node_number
    if node_id is not None:
        assert str(eid.node_id()) == node_id


def test_two_and_three_element_forms_name_the_same_endpoint():
    assert parse_eid("ipn:2.1") == parse_eid("ipn:0.2.1")
    assert hash(parse_eid("ipn:2.1")) == hash(parse_eid("ipn:0.2.1"))
    assert parse_eid("ipn:4294967297.1") == IpnEID(1, 1, 1, three_element=True)


def test_frozen_and_hashable():
    eid = parse_eid("ipn:2.1")
    with pytest.raises(AttributeError):
        eid.node = 3  # type: ignore[misc]
    assert {eid, parse_eid("ipn:2.1"), DTN_NONE} == {eid, DTN_NONE}
    assert DTN_NONE.is_null and not DtnEID("//a/").is_null


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ipn",
        "ipn:1",
        "ipn:1.",
        "ipn:.1",
        "ipn:a.b",
        "ipn:-1.2",
        "ipn:1.2.3.4",
        "ipn:4294967296.1.1",
        "ipn:1.4294967296.1",
        "ipn:18446744073709551616.1",
        "dtn:",
        "dtn:x",
        "dtn://",
        "dtn://x",
        "dtn:///x",
        "dtn://a b/",
        "dtn://a/ b",
        "DTN:none",
        "http://x/",
        "dtn://a/\u00e9",
    ],
)
def test_invalid_text_rejected(text):
    with pytest.raises(DecodeError):
        parse_eid(text)


@pytest.mark.parametrize(
    "value",
    [
        None,
        5,
        [],
        [1],
        [1, 0, 0],
        [3, 1],
        [1, 1],
        [1, "none"],
        [1, "x"],
        [1, b"//a/"],
        [2, 1],
        [2, [1]],
        [2, [1, 2, 3, 4]],
        [2, [1, -1]],
        [2, [1 << 32, 1, 1]],
        [2, ["1", 2]],
        [True, 0],
    ],
)
def test_invalid_cbor_rejected(value):
    with pytest.raises(DecodeError):
        eid_from_cbor(value)


@given(eids())
def test_text_and_cbor_round_trip(eid):
    assert parse_eid(str(eid)) == eid
    assert str(parse_eid(str(eid))) == str(eid)
    again = eid_from_cbor(cbor2.loads(cbor2.dumps(eid.to_cbor())))
    assert again == eid and again.to_cbor() == eid.to_cbor()


def test_wire_key_tells_the_encodings_apart():
    two, three = parse_eid("ipn:2.1"), parse_eid("ipn:0.2.1")
    assert two == three and two.wire_key != three.wire_key  # same endpoint, different bytes on the wire
    assert parse_eid("ipn:2.1").wire_key == two.wire_key
    assert parse_eid("dtn://a/b").wire_key != parse_eid("dtn://a/c").wire_key
    assert {e.wire_key for e in (two, three, DTN_NONE)} == {two.wire_key, three.wire_key, DTN_NONE.wire_key}
