"""Abstract security block encode/decode (dtn/bpsec/asb.py), RFC 9172 §3.6."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dtn.bpsec.asb import AbstractSecurityBlock, decode_asb, encode_asb
from dtn.bpv7.eid import parse_eid
from dtn.errors import DecodeError, EncodeError
from tests.bpsec import rfc9173_vectors as v

ALL_ASBS = [v.A1_ASB, v.A2_ASB, v.A3_BIB_ASB, v.A3_BCB_ASB, v.A4_BIB_ASB, v.A4_BCB_ASB]


@pytest.mark.parametrize("data", ALL_ASBS)
def test_rfc9173_asbs_round_trip_byte_exact(data):
    asb = decode_asb(data)
    assert asb.validate() == []
    assert encode_asb(asb) == data


def test_a1_asb_fields():
    asb = decode_asb(v.A1_ASB)
    assert asb.targets == (1,)
    assert asb.context_id == 1
    assert asb.context_flags == 1
    assert str(asb.source) == "ipn:2.1"
    assert asb.parameters == ((1, 7), (3, 0))
    assert asb.results == (((1, v.A1_SIGNATURE),),)
    assert asb.parameter(1) == 7 and asb.parameter(2) is None
    assert asb.results_for(1) == ((1, v.A1_SIGNATURE),)


def test_a4_bcb_results_follow_target_order():
    asb = decode_asb(v.A4_BCB_ASB)
    assert asb.targets == (3, 1)
    assert asb.results_for(3) == ((1, v.A4_BIB_TAG),)
    assert asb.results_for(1) == ((1, v.A4_PAYLOAD_TAG),)
    rest = asb.without_targets({3})
    assert rest.targets == (1,) and rest.results == (((1, v.A4_PAYLOAD_TAG),),)
    assert asb.without_targets({1, 3}) is None


def test_source_given_as_text_is_parsed():
    asb = AbstractSecurityBlock((1,), 1, "dtn://node/svc", None, ((),))
    assert asb.source == parse_eid("dtn://node/svc")
    assert decode_asb(encode_asb(asb)) == asb


def _seq(*items) -> bytes:
    return b"".join(cbor2.dumps(i) for i in items)


GOOD = ([1], 1, 1, [2, [2, 1]], [[1, 7]], [[[1, b"x"]]])


@pytest.mark.parametrize(
    ("items", "reason"),
    [
        (GOOD[:0], "ends before"),
        (([],) + GOOD[1:], "non-empty"),
        (([1, 1],) + GOOD[1:], "duplicate"),
        ((["a"],) + GOOD[1:], "unsigned"),
        ((GOOD[0], "x") + GOOD[2:], "context id"),
        ((GOOD[0], 1, -1) + GOOD[3:], "flags"),
        (GOOD[:3] + ([9, 9],) + GOOD[4:], "security source"),
        (GOOD[:4] + ([[1]],) + GOOD[5:], "pair"),
        (GOOD[:4] + ([[-1, 2]],) + GOOD[5:], "unsigned"),
        (GOOD[:5] + ([],), "result sets"),
        (GOOD[:5], "ends before the security results"),
        (GOOD[:5] + ([[[1, b"x"]]], 0), "trailing"),
    ],
)
def test_malformed_asb_is_a_decode_error(items, reason):
    with pytest.raises(DecodeError, match=reason):
        decode_asb(_seq(*items))


def test_stray_break_byte_is_rejected():
    data = bytearray(v.A1_ASB)
    data += b"\xff"
    with pytest.raises(DecodeError):
        decode_asb(bytes(data))
    with pytest.raises(DecodeError):
        decode_asb(b"\x81\x01\x01\x01\x82\x02\x82\x02\x01\x82\xff")


def test_decode_error_carries_offset():
    data = _seq(*GOOD[:3], [9, 9], *GOOD[4:])
    with pytest.raises(DecodeError) as info:
        decode_asb(data)
    assert info.value.offset == len(_seq(*GOOD[:3]))


def test_reserved_context_flags_are_kept():
    data = _seq(GOOD[0], 1, 0x81, *GOOD[3:])
    asb = decode_asb(data)
    assert asb.reserved_flags == 0x80 and asb.context_flags == 0x81
    assert encode_asb(asb) == data


def test_encode_rejects_inconsistent_block():
    with pytest.raises(EncodeError, match="result sets"):
        encode_asb(AbstractSecurityBlock((1, 2), 1, "ipn:1.1", None, ((),)))


eids = st.one_of(
    st.just("dtn:none"),
    st.builds(lambda n, s: f"ipn:{n}.{s}", st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1)),
    st.builds(
        lambda a, n, s: f"ipn:{a}.{n}.{s}", st.integers(1, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(0, 99)
    ),
    st.from_regex(r"\Adtn://[a-z0-9]{1,8}/[a-z0-9/]{0,8}\Z"),
)
values = st.one_of(st.integers(-(2**63), 2**64 - 1), st.binary(max_size=40), st.text(max_size=10))
pairs = st.lists(st.tuples(st.integers(0, 2**64 - 1), values), max_size=4).map(tuple)


@st.composite
def asbs(draw):
    targets = tuple(draw(st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=5, unique=True)))
    return AbstractSecurityBlock(
        targets=targets,
        context_id=draw(st.integers(-(2**15), 2**15)),
        source=draw(eids),
        parameters=draw(st.one_of(st.none(), pairs)),
        results=tuple(draw(pairs) for _ in targets),
        reserved_flags=draw(st.sampled_from([0, 2, 0x80])),
    )


@given(asbs())
def test_asb_round_trip(asb):
    assert decode_asb(encode_asb(asb)) == asb


@given(st.binary(max_size=200))
def test_decode_arbitrary_bytes_raises_only_decode_error(data):
    try:
        asb = decode_asb(data)
    except DecodeError:
        return
    assert asb.validate() == []
