"""Hypothesis strategies for BPv7 values (for our tests and for other packages' tests).

    from dtn.bpv7.testing import bundles
    @given(bundles())
    def test_round_trip(bundle): ...

Every generated bundle is valid: `bundle.validate() == []` and it encodes and decodes.
"""

from __future__ import annotations

import cbor2
from hypothesis import strategies as st

from dtn.bpv7.bundle import BlockFlag, BlockType, Bundle, BundleFlag, CanonicalBlock, PrimaryBlock
from dtn.bpv7.crc import CrcType
from dtn.bpv7.eid import DTN_NONE, DtnEID, IpnEID

_UINT64 = st.integers(min_value=0, max_value=(1 << 64) - 1)
_UINT32 = st.integers(min_value=0, max_value=(1 << 32) - 1)
_SMALL = st.integers(min_value=0, max_value=100_000)
_NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._~", min_size=1, max_size=12)
_DEMUX = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._~/!$", max_size=12)


def ipn_eids() -> st.SearchStrategy[IpnEID]:
    two = st.builds(IpnEID.from_fqnn, st.one_of(_SMALL, _UINT64), st.one_of(_SMALL, _UINT64))
    three = st.builds(lambda a, n, s: IpnEID(a, n, s, three_element=True), _UINT32, _UINT32, _UINT64)
    return st.one_of(two, three)


def dtn_eids() -> st.SearchStrategy[DtnEID]:
    return st.builds(lambda node, demux: DtnEID(f"//{node}/{demux}"), _NAME, _DEMUX)


def eids(*, allow_none: bool = True) -> st.SearchStrategy:
    """Any valid EID: ipn (two- and three-element forms), dtn://node/demux and, unless excluded, dtn:none."""
    options = [ipn_eids(), dtn_eids()]
    if allow_none:
        options.append(st.just(DTN_NONE))
    return st.one_of(*options)


def node_ids() -> st.SearchStrategy:
    return eids(allow_none=False).map(lambda eid: eid.node_id())


def crc_types() -> st.SearchStrategy[CrcType]:
    return st.sampled_from(list(CrcType))


_BLOCK_FLAGS = st.integers(min_value=0, max_value=0x1F).map(BlockFlag)


@st.composite
def blocks(draw, number: int | None = None, kinds: tuple[int, ...] | None = None) -> CanonicalBlock:
    """One extension block with valid contents: Previous Node, Bundle Age, Hop Count, or an unknown type."""
    kind = draw(st.sampled_from(kinds)) if kinds else draw(
        st.one_of(
            st.sampled_from([BlockType.PREVIOUS_NODE, BlockType.BUNDLE_AGE, BlockType.HOP_COUNT]),
            st.integers(min_value=13, max_value=400),
            st.integers(min_value=193, max_value=255),
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
    return CanonicalBlock(kind, number, draw(_BLOCK_FLAGS), draw(crc_types()), data)


@st.composite
def bundles(draw, *, max_payload_bytes: int = 2048, fragments: bool = True) -> Bundle:
    """A valid bundle: any EIDs, flags, CRC types and timestamps, 0-4 extension blocks, optionally a fragment."""
    source = draw(eids())
    flags = BundleFlag(draw(st.integers(min_value=0, max_value=0x7FFFF)) & ~BundleFlag.IS_FRAGMENT)
    if flags & BundleFlag.IS_ADMIN_RECORD or source == DTN_NONE:
        flags &= ~(BundleFlag.REPORT_RECEPTION | BundleFlag.REPORT_FORWARDING
                   | BundleFlag.REPORT_DELIVERY | BundleFlag.REPORT_DELETION)
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
        extension.append(CanonicalBlock(BlockType.BUNDLE_AGE, free, BlockFlag(0), CrcType.CRC32C, cbor2.dumps(draw(_SMALL))))
    payload_block = CanonicalBlock(BlockType.PAYLOAD, 1, draw(_BLOCK_FLAGS), draw(crc_types()), payload)
    return Bundle(primary, (*extension, payload_block))
