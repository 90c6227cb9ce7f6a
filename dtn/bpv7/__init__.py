"""BPv7 bundles (RFC 9171): endpoint IDs, blocks, bundles, a strict zero-copy codec, status reports,
fragmentation. Pure: no I/O, no clock, no trio. See docs/bundle.md.

    from dtn.bpv7 import Bundle, decode, encode, parse_eid
    bundle = Bundle.create("ipn:1.1", "ipn:2.1", b"hello", creation_time_ms=1)
    assert decode(encode(bundle)) == bundle
"""

from dtn.bpv7.bundle import (
    STATUS_REPORT_FLAGS,
    BlockFlag,
    BlockType,
    Bundle,
    BundleFlag,
    BundleId,
    CanonicalBlock,
    PrimaryBlock,
)
from dtn.bpv7.codec import (
    decode,
    decode_block,
    decode_primary,
    encode,
    encode_block,
    encode_block_parts,
    encode_parts,
    encode_primary,
    encoded_size,
)
from dtn.bpv7.crc import CrcType
from dtn.bpv7.eid import DTN_NONE, EID, DtnEID, IpnEID, eid_from_cbor, parse_eid

__all__ = [
    "DTN_NONE",
    "EID",
    "STATUS_REPORT_FLAGS",
    "BlockFlag",
    "BlockType",
    "Bundle",
    "BundleFlag",
    "BundleId",
    "CanonicalBlock",
    "CrcType",
    "DtnEID",
    "IpnEID",
    "PrimaryBlock",
    "decode",
    "decode_block",
    "decode_primary",
    "eid_from_cbor",
    "encode",
    "encode_block",
    "encode_block_parts",
    "encode_parts",
    "encode_primary",
    "encoded_size",
    "parse_eid",
]
