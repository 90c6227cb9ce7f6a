"""dtn/bpv7/fragment.py: fragmentation and reassembly (RFC 9171 §5.8, §5.9)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dtn.bpv7 import BlockFlag, BlockType, Bundle, BundleFlag, CanonicalBlock, CrcType, decode, encode
from dtn.bpv7.fragment import Reassembler, fragment, reassemble
from dtn.bpv7.testing import bundles
from dtn.errors import DecodeError, EncodeError
from tests.conftest import examples


def _bundle(size: int = 5000, **kwargs) -> Bundle:
    payload = random.Random(size).randbytes(size)
    extra = [
        CanonicalBlock(200, 5, BlockFlag.REPLICATE_IN_FRAGMENTS, CrcType.CRC16, b"everywhere"),
        CanonicalBlock(201, 6, BlockFlag(0), CrcType.CRC32C, b"first only"),
    ]
    return Bundle.create("ipn:1.1", "ipn:2.1", payload, creation_time_ms=77, hop_limit=9, extra_blocks=extra, **kwargs)


def test_fragments_fit_and_replicate_blocks():
    bundle = _bundle()
    pieces = fragment(bundle, 700)
    assert len(pieces) > 5
    for piece in pieces:
        assert len(encode(piece)) <= 700
        assert piece.validate() == []
        assert decode(encode(piece)) == piece
        types = {b.type for b in piece.blocks}
        assert 200 in types
        if piece.primary.fragment_offset == 0:
            assert {201, BlockType.HOP_COUNT} <= types
        else:
            assert 201 not in types and BlockType.HOP_COUNT not in types
    assert sum(len(p.payload) for p in pieces) == len(bundle.payload)
    assert [p.id.fragment_offset for p in pieces] == sorted(p.id.fragment_offset for p in pieces)


def test_bundle_that_fits_is_returned_as_is():
    bundle = _bundle(10)
    assert fragment(bundle, 10_000) == [bundle]


def test_refusals():
    with pytest.raises(EncodeError, match="MUST_NOT_FRAGMENT"):
        fragment(_bundle(flags=BundleFlag.MUST_NOT_FRAGMENT), 500)
    with pytest.raises(EncodeError, match="cannot hold"):
        fragment(_bundle(), 60)


@settings(max_examples=examples(40))
@given(bundles(max_payload_bytes=3000, fragments=False), st.integers(min_value=0, max_value=400), st.randoms())
def test_shuffled_fragments_reassemble(bundle, slack, rng):
    limit = len(encode(bundle.with_blocks([*bundle.blocks[:-1], CanonicalBlock(1, 1, data=b"")]))) + 40 + slack
    if bundle.primary.flags & BundleFlag.MUST_NOT_FRAGMENT:
        return
    pieces = fragment(bundle, limit)
    if pieces == [bundle]:  # it already fits
        assert len(encode(bundle)) <= limit
        return
    rng.shuffle(pieces)
    whole = reassemble(pieces)
    assert encode(whole) == encode(bundle)
    reassembler = Reassembler()
    results = [reassembler.add(decode(encode(p))) for p in pieces]
    assert results[:-1] == [None] * (len(pieces) - 1) and results[-1] == bundle
    assert len(reassembler) == 0


def test_refragmentation_and_overlaps():
    bundle = _bundle()
    coarse = fragment(bundle, 2000)
    fine = [g for f in coarse for g in fragment(f, 600)]
    assert reassemble(fine) == bundle
    # Overlapping fragments that agree are fine.
    assert reassemble([*coarse, *fine[:3]]) == bundle


def test_reassembly_errors():
    bundle = _bundle()
    pieces = fragment(bundle, 700)
    with pytest.raises(DecodeError, match="missing"):
        reassemble(pieces[:2] + pieces[3:])
    tampered = pieces[1].with_blocks([*pieces[1].blocks[:-1], CanonicalBlock(1, 1, data=b"X" * len(pieces[1].payload))])
    with pytest.raises(DecodeError, match="disagree"):
        reassemble([*pieces, tampered])
    wrong_total = pieces[2].with_primary(total_adu_length=pieces[2].primary.total_adu_length + 1)
    with pytest.raises(DecodeError, match="total ADU length"):
        reassemble([pieces[0], wrong_total])
    past_end = pieces[-1].with_primary(fragment_offset=pieces[-1].primary.total_adu_length)
    with pytest.raises(DecodeError, match="past the total"):
        Reassembler().add(past_end)
    with pytest.raises(DecodeError, match="not a fragment"):
        Reassembler().add(bundle)
    with pytest.raises(DecodeError, match="different bundles"):
        reassemble([pieces[0], fragment(_bundle(4000, sequence=1), 700)[1]])
