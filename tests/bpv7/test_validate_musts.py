"""RFC 9171 MUSTs that decode lets through and validate (and so the node on reception) refuses (issue 15)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given

from dtn.bpv7 import decode, encode
from dtn.bpv7.bundle import BlockFlag, Bundle, BundleFlag
from dtn.bpv7.crc import CrcType
from dtn.bpv7.testing import bundles


def _admin(block_flags: BlockFlag) -> Bundle:
    bundle = Bundle.create(
        "ipn:1.0",
        "ipn:2.0",
        b"\x82\x01\x80",
        creation_time_ms=1000,
        flags=BundleFlag.IS_ADMIN_RECORD,
        crc_type=CrcType.CRC16,
    )
    blocks = tuple(dataclasses.replace(b, flags=block_flags) for b in bundle.blocks)
    return decode(encode(bundle.with_blocks(blocks)))


def test_admin_record_asking_for_block_unprocessable_reports_is_invalid():
    bad = _admin(BlockFlag.REPORT_IF_UNPROCESSABLE)  # decodes fine
    problems = bad.validate()
    assert len(problems) == 1 and "§4.2.4" in problems[0] and "administrative record" in problems[0]
    assert _admin(BlockFlag.DELETE_IF_UNPROCESSABLE).validate() == []


@pytest.mark.parametrize(
    "previous, why",
    [
        ("dtn:none", "names no node"),
        ("ipn:3.7", "service number 0"),
        ("dtn://relay/inbox", "empty demux"),
    ],
)
def test_previous_node_must_be_a_node_id(previous, why):
    bundle = Bundle.create("ipn:1.1", "ipn:2.1", b"x", creation_time_ms=1000, crc_type=CrcType.CRC16)
    bad = decode(encode(bundle.with_previous_node(previous)))
    problems = bad.validate()
    assert len(problems) == 1 and why in problems[0] and "§4.4.1" in problems[0], problems


@pytest.mark.parametrize("previous", ["ipn:3.0", "dtn://relay/", "ipn:977000.1.0"])
def test_node_ids_are_fine_as_previous_node(previous):
    bundle = Bundle.create("ipn:1.1", "ipn:2.1", b"x", creation_time_ms=1000, crc_type=CrcType.CRC16)
    assert decode(encode(bundle.with_previous_node(previous))).validate() == []


def test_crc_type_0_without_a_bib_on_the_primary_is_reported():
    bundle = Bundle.create("ipn:1.1", "ipn:2.1", b"x", creation_time_ms=1000, crc_type=CrcType.NONE)
    assert any("CRC type must not be 0" in p for p in bundle.validate())


@given(bundles())
def test_generated_bundles_still_validate(bundle):
    assert bundle.validate() == []
