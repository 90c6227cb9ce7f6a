"""Cross-tests with pyd3tn 0.15.2 in both directions (an independent BPv7 implementation).

pyd3tn quirks accounted for (PITFALLS): its REPORT_DELETION flag is 0x400000 (RFC 9171: 0x040000), three block
flag names do not match the RFC bits (the values travel unchanged, so we compare numbers), its status report
times are in seconds, and it only knows block types 1, 6, 7 and 10.
"""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dtn.bpv7 import BlockFlag, BlockType, Bundle, BundleFlag, CanonicalBlock, CrcType, PrimaryBlock, decode, encode
from dtn.bpv7.admin import StatusReasonCode, StatusReport, decode_admin_record, encode_admin_record
from dtn.bpv7.eid import DTN_NONE
from dtn.bpv7.testing import dtn_eids, node_ids
from dtn.bpv7.time import DTN_EPOCH_UNIX_S
from tests.conftest import examples

pyd3tn = pytest.importorskip("pyd3tn.bundle7")

# 2001..2040 in Unix seconds: pyd3tn converts timestamps through floats and datetimes.
_UNIX_S = st.integers(min_value=DTN_EPOCH_UNIX_S + 86_400 * 366, max_value=2_208_988_800)
_IPN = st.builds(lambda n, s: f"ipn:{n}.{s}", st.integers(0, 1 << 31), st.integers(0, 1 << 31))
_EIDS = st.one_of(_IPN, dtn_eids().map(str))
_PYD3TN_FLAGS = [0, 0x04, 0x20, 0x40, 0x4000, 0x10000, 0x20000]


@st.composite
def pyd3tn_cases(draw):
    fragment = draw(st.booleans())
    payload = draw(st.binary(max_size=300))
    flags = 0
    for flag in draw(st.lists(st.sampled_from(_PYD3TN_FLAGS), max_size=3)):
        flags |= flag
    case = dict(
        source_eid=draw(_EIDS),
        destination_eid=draw(_EIDS),
        payload=payload,
        report_to_eid=draw(st.one_of(st.none(), _EIDS)),
        crc_type_primary=draw(st.sampled_from([pyd3tn.CRCType.CRC16, pyd3tn.CRCType.CRC32])),
        creation_timestamp=draw(_UNIX_S),
        sequence_number=draw(st.integers(0, 1 << 32)),
        lifetime=draw(st.integers(1, 10**7)),
        hop_limit=draw(st.one_of(st.none(), st.integers(1, 255))),
        hop_count=0,
        bundle_age=draw(st.one_of(st.none(), st.integers(0, 10**6))),
        previous_node_eid=draw(st.one_of(st.none(), _IPN.map(lambda e: e.split(".")[0] + ".0"))),
        crc_type_canonical=draw(st.sampled_from(list(pyd3tn.CRCType))),
    )
    if fragment:
        flags |= pyd3tn.BundleProcFlag.IS_FRAGMENT
        case["fragment_offset"] = draw(st.integers(0, 10**6))
        case["total_adu_length"] = case["fragment_offset"] + len(payload) + draw(st.integers(0, 1000))
    case["flags"] = flags
    return case


@settings(max_examples=examples(40))
@given(pyd3tn_cases())
def test_pyd3tn_serializes_we_decode(case):
    data = pyd3tn.serialize_bundle7(**case)
    bundle = decode(data)
    p = bundle.primary
    assert str(p.source) == case["source_eid"]
    assert str(p.destination) == case["destination_eid"]
    assert str(p.report_to) == (case["report_to_eid"] or "dtn:none")
    assert p.creation_time_ms == (case["creation_timestamp"] - DTN_EPOCH_UNIX_S) * 1000
    assert p.sequence == case["sequence_number"]
    assert p.lifetime_ms == case["lifetime"] * 1000
    assert int(p.flags) == int(case["flags"])
    assert int(p.crc_type) == int(case["crc_type_primary"])
    assert bytes(bundle.payload) == case["payload"]
    assert {int(b.crc_type) for b in bundle.blocks} == {int(case["crc_type_canonical"])}
    if case["flags"] & BundleFlag.IS_FRAGMENT:
        assert (p.fragment_offset, p.total_adu_length) == (case["fragment_offset"], case["total_adu_length"])
    expected_hops = None if case["hop_limit"] is None else (case["hop_limit"], 0)
    assert bundle.hop_count == expected_hops
    assert bundle.bundle_age_ms == (None if case["bundle_age"] is None else case["bundle_age"] * 1000)
    assert str(bundle.previous_node) == str(case["previous_node_eid"])
    assert encode(bundle) == data  # pyd3tn writes canonical CBOR: our re-encoding is byte-identical


@st.composite
def our_bundles(draw):
    fragment = draw(st.booleans())
    payload = draw(st.binary(max_size=300))
    flags = BundleFlag(0)
    for flag in draw(
        st.lists(
            st.sampled_from(
                [
                    BundleFlag.MUST_NOT_FRAGMENT,
                    BundleFlag.ACK_REQUESTED,
                    BundleFlag.STATUS_TIME_REQUESTED,
                    BundleFlag.REPORT_DELIVERY,
                ]
            ),
            max_size=2,
        )
    ):
        flags |= flag
    extension = []
    number = 2
    for kind in draw(
        st.lists(
            st.sampled_from([BlockType.PREVIOUS_NODE, BlockType.BUNDLE_AGE, BlockType.HOP_COUNT]),
            unique=True,
            max_size=3,
        )
    ):
        if kind == BlockType.PREVIOUS_NODE:
            data = cbor2.dumps(draw(node_ids()).to_cbor())
        elif kind == BlockType.BUNDLE_AGE:
            data = cbor2.dumps(draw(st.integers(0, 10**9)))
        else:
            data = cbor2.dumps([draw(st.integers(1, 255)), 0])
        extension.append(
            CanonicalBlock(
                kind, number, BlockFlag(draw(st.integers(0, 0x17))), draw(st.sampled_from(list(CrcType))), data
            )
        )
        number += draw(st.integers(1, 5))
    offset = total = None
    if fragment and not flags & BundleFlag.MUST_NOT_FRAGMENT:
        flags |= BundleFlag.IS_FRAGMENT
        offset = draw(st.integers(0, 10**6))
        total = offset + len(payload) + draw(st.integers(0, 99))
    primary = PrimaryBlock(
        destination=draw(node_ids()),
        source=draw(node_ids()),
        report_to=draw(st.one_of(st.just(DTN_NONE), node_ids())),
        creation_time_ms=(draw(_UNIX_S) - DTN_EPOCH_UNIX_S) * 1000 + draw(st.integers(0, 999)),
        sequence=draw(st.integers(0, 1 << 40)),
        lifetime_ms=draw(st.integers(0, 1 << 40)),
        flags=flags,
        crc_type=draw(st.sampled_from([CrcType.CRC16, CrcType.CRC32C])),
        fragment_offset=offset,
        total_adu_length=total,
    )
    payload_block = CanonicalBlock(BlockType.PAYLOAD, 1, BlockFlag(0), draw(st.sampled_from(list(CrcType))), payload)
    return Bundle(primary, (*extension, payload_block))


@settings(max_examples=examples(40))
@given(our_bundles())
def test_we_encode_pyd3tn_parses(bundle):
    data = encode(bundle)
    theirs = pyd3tn.Bundle.parse(data)
    tp, p = theirs.primary_block, bundle.primary
    assert str(tp.source) == str(p.source) and str(tp.destination) == str(p.destination)
    assert str(tp.report_to) == str(p.report_to)
    assert int(tp.bundle_proc_flags) == int(p.flags)
    assert int(tp.crc_type) == int(p.crc_type)
    assert tp.creation_time.sequence_number == p.sequence
    assert tp.lifetime == p.lifetime_ms
    assert (tp.fragment_offset, tp.total_payload_length) == (p.fragment_offset, p.total_adu_length)
    assert tp.crc_provided == tp.calculate_crc()  # pyd3tn agrees with our primary CRC
    assert bytes(theirs.payload_block.data) == bytes(bundle.payload)
    ours = {b.number: b for b in bundle.blocks}
    for block in [*theirs.blocks, theirs.payload_block]:
        mine = ours[block.block_number]
        assert int(block.block_type) == int(mine.type)
        assert int(block.block_proc_flags) == int(mine.flags)
        assert bytes(block.data) == bytes(mine.data)
        if block.crc_type != pyd3tn.CRCType.NONE:
            assert block.crc_provided == block.calculate_crc()


def test_pyd3tn_report_deletion_quirk_travels_as_its_own_bit():
    data = pyd3tn.serialize_bundle7(
        "ipn:1.1",
        "ipn:2.1",
        b"x",
        creation_timestamp=DTN_EPOCH_UNIX_S + 100,
        sequence_number=0,
        flags=pyd3tn.BundleProcFlag.REPORT_DELETION,
    )
    flags = decode(data).primary.flags
    assert int(flags) == 0x400000 and not flags & BundleFlag.REPORT_DELETION


@pytest.mark.parametrize("reason", [0, 4, 6, 9])
def test_status_reports_both_directions(reason):
    # pyd3tn -> us (its times are seconds since the DTN epoch; ours are ms: compare raw numbers).
    from datetime import datetime, timezone

    when = datetime(2030, 1, 2, tzinfo=timezone.utc)
    theirs = pyd3tn.BundleStatusReport(
        pyd3tn.StatusCode.RECEIVED_BUNDLE | pyd3tn.StatusCode.DELIVERED_BUNDLE,
        reason,
        pyd3tn.EID("ipn:5.1"),
        pyd3tn.CreationTimestamp(DTN_EPOCH_UNIX_S + 10, 3),
        7,
        70,
        time=when,
    )
    report = decode_admin_record(theirs.data)
    seconds = int((when.timestamp() - DTN_EPOCH_UNIX_S))
    assert report.received and report.delivered and not report.forwarded and not report.deleted
    assert report.received_time_ms == seconds == report.delivered_time_ms
    assert int(report.reason) == reason and str(report.source) == "ipn:5.1"
    assert (report.creation_time_ms, report.sequence) == (10_000, 3)
    assert (report.fragment_offset, report.fragment_length) == (7, 70)
    # us -> pyd3tn
    ours = StatusReport(
        source=report.source,
        creation_time_ms=10_000,
        sequence=3,
        reason=StatusReasonCode(reason),
        forwarded=True,
        forwarded_time_ms=123_456,
        deleted=True,
    )
    parsed = pyd3tn.Bundle.parse_administrative_record(encode_admin_record(ours))
    status, code, source, timestamp = parsed["record_data"][:4]
    assert status == [[False], [True, 123_456], [False], [True]]
    assert code == reason and str(source) == "ipn:5.1" and list(timestamp) == [10_000, 3]
