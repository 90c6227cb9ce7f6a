"""Hypothesis strategies for BPv7 values (for our tests and for other packages' tests).

    from dtn.bpv7.testing import bundles
    @given(bundles())
    def test_round_trip(bundle): ...

Every generated bundle is valid: `bundle.validate() == []` and it encodes and decodes.

hypothesis is imported inside each function, not at module level: importing hypothesis loads trio's hypothesis
plugin, and a pure layer must not pull trio in (tests/test_layering.py imports every module of dtn.bpv7).
"""

from __future__ import annotations

import dataclasses

import cbor2

from dtn.bpv7.bundle import BlockFlag, BlockType, Bundle, BundleFlag, CanonicalBlock, PrimaryBlock
from dtn.bpv7.crc import CrcType
from dtn.bpv7.eid import DTN_NONE, DtnEID, IpnEID

_UINT64_MAX = (1 << 64) - 1
_UINT32_MAX = (1 << 32) - 1
_NAME_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-._~"
_DEMUX_ALPHABET = _NAME_ALPHABET + "/!$"


def _st():
    from hypothesis import strategies

    return strategies


def ipn_eids():
    """ipn EIDs in both wire forms (two-element [FQNN, service] and three-element, RFC 9758)."""
    st = _st()
    _UINT64 = st.integers(min_value=0, max_value=_UINT64_MAX)
    _UINT32 = st.integers(min_value=0, max_value=_UINT32_MAX)
    _SMALL = st.integers(min_value=0, max_value=100_000)
    two = st.builds(IpnEID.from_fqnn, st.one_of(_SMALL, _UINT64), st.one_of(_SMALL, _UINT64))
    three = st.builds(lambda a, n, s: IpnEID(a, n, s, three_element=True), _UINT32, _UINT32, _UINT64)
    return st.one_of(two, three)


def dtn_eids():
    """dtn://node/demux EIDs."""
    st = _st()
    _NAME = st.text(alphabet=_NAME_ALPHABET, min_size=1, max_size=12)
    _DEMUX = st.text(alphabet=_DEMUX_ALPHABET, max_size=12)
    return st.builds(lambda node, demux: DtnEID(f"//{node}/{demux}"), _NAME, _DEMUX)


def eids(*, allow_none: bool = True):
    """Any valid EID: ipn (two- and three-element forms), dtn://node/demux and, unless excluded, dtn:none."""
    st = _st()
    options = [ipn_eids(), dtn_eids()]
    if allow_none:
        options.append(st.just(DTN_NONE))
    return st.one_of(*options)


def node_ids():
    """Node IDs (ipn:N.0, dtn://node/)."""
    return eids(allow_none=False).map(lambda eid: eid.node_id())


def crc_types():
    return _st().sampled_from(list(CrcType))


def _block_flags():
    return _st().integers(min_value=0, max_value=0x1F).map(BlockFlag)


def blocks(number: int | None = None, kinds: tuple[int, ...] | None = None):
    """One extension block with valid contents: Previous Node, Bundle Age, Hop Count, or an unknown type."""
    return _st().composite(_draw_block)(number, kinds)


def _draw_block(draw, number: int | None, kinds: tuple[int, ...] | None) -> CanonicalBlock:
    st = _st()
    _UINT64 = st.integers(min_value=0, max_value=_UINT64_MAX)
    kind = (
        draw(st.sampled_from(kinds))
        if kinds
        else draw(
            st.one_of(
                st.sampled_from([BlockType.PREVIOUS_NODE, BlockType.BUNDLE_AGE, BlockType.HOP_COUNT]),
                st.integers(min_value=13, max_value=400),
                st.integers(min_value=193, max_value=255),
            )
        )
    )
    if kind == BlockType.PREVIOUS_NODE:
        data = cbor2.dumps(draw(node_ids()).to_cbor())
    elif kind == BlockType.BUNDLE_AGE:
        data = cbor2.dumps(draw(_UINT64))
    elif kind == BlockType.HOP_COUNT:
        limit = draw(st.integers(min_value=1, max_value=255))
        data = cbor2.dumps([limit, draw(st.integers(min_value=0, max_value=limit))])
    else:
        data = draw(st.binary(max_size=64))
    if number is None:
        number = draw(st.integers(min_value=2, max_value=1000))
    kind = BlockType(kind) if kind in BlockType._value2member_map_ else kind
    return CanonicalBlock(kind, number, draw(_block_flags()), draw(crc_types()), data)


def bundles(*, max_payload_bytes: int = 2048, fragments: bool = True):
    """A valid bundle: any EIDs, flags, CRC types and timestamps, 0-4 extension blocks, optionally a fragment."""
    return _st().composite(_draw_bundle)(max_payload_bytes, fragments)


def _draw_bundle(draw, max_payload_bytes: int, fragments: bool) -> Bundle:
    st = _st()
    _UINT64 = st.integers(min_value=0, max_value=_UINT64_MAX)
    _SMALL = st.integers(min_value=0, max_value=100_000)
    source = draw(eids())
    flags = BundleFlag(draw(st.integers(min_value=0, max_value=0x7FFFF)) & ~BundleFlag.IS_FRAGMENT)
    if flags & BundleFlag.IS_ADMIN_RECORD or source == DTN_NONE:
        flags &= ~(
            BundleFlag.REPORT_RECEPTION
            | BundleFlag.REPORT_FORWARDING
            | BundleFlag.REPORT_DELIVERY
            | BundleFlag.REPORT_DELETION
        )
    if source == DTN_NONE:
        flags |= BundleFlag.MUST_NOT_FRAGMENT
    payload = draw(st.binary(max_size=max_payload_bytes))
    fragment_offset = total = None
    if fragments and not flags & BundleFlag.MUST_NOT_FRAGMENT and draw(st.booleans()):
        flags |= BundleFlag.IS_FRAGMENT
        fragment_offset = draw(st.one_of(_SMALL, st.integers(min_value=0, max_value=(1 << 40))))
        total = fragment_offset + len(payload) + draw(st.one_of(st.just(0), _SMALL))
    creation_time_ms = draw(st.one_of(st.just(0), _SMALL, st.integers(min_value=0, max_value=(1 << 50))))
    primary = PrimaryBlock(
        destination=draw(eids()),
        source=source,
        report_to=draw(eids()),
        creation_time_ms=creation_time_ms,
        sequence=draw(st.one_of(_SMALL, _UINT64)),
        lifetime_ms=draw(st.one_of(_SMALL, _UINT64)),
        flags=flags,
        crc_type=draw(st.sampled_from([CrcType.CRC16, CrcType.CRC32C])),
        fragment_offset=fragment_offset,
        total_adu_length=total,
    )
    numbers = draw(st.lists(st.integers(min_value=2, max_value=1 << 20), unique=True, max_size=4))
    extension: list[CanonicalBlock] = []
    used_unique: set[int] = set()
    for number in numbers:
        block = draw(blocks(number=number))
        if block.type in (BlockType.PREVIOUS_NODE, BlockType.BUNDLE_AGE, BlockType.HOP_COUNT):
            if block.type in used_unique:
                continue
            used_unique.add(block.type)
        extension.append(block)
    if creation_time_ms == 0 and BlockType.BUNDLE_AGE not in used_unique:
        free = max(numbers, default=1) + 1
        extension.append(
            CanonicalBlock(BlockType.BUNDLE_AGE, free, BlockFlag(0), CrcType.CRC32C, cbor2.dumps(draw(_SMALL)))
        )
    payload_block = CanonicalBlock(BlockType.PAYLOAD, 1, draw(_block_flags()), draw(crc_types()), payload)
    all_blocks = (*extension, payload_block)
    if flags & BundleFlag.IS_ADMIN_RECORD:  # RFC 9171 §4.2.4: no "report if unprocessable" in an admin record
        all_blocks = tuple(
            dataclasses.replace(b, flags=BlockFlag(b.flags & ~BlockFlag.REPORT_IF_UNPROCESSABLE)) for b in all_blocks
        )
    return Bundle(primary, all_blocks)
