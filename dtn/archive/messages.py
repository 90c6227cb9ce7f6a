"""Archive messages: the payloads of bundles between archive services (pure, CBOR).

Every message is one CBOR array `[1, type, ...]` (version 1), carried as the payload of a bundle from the
sender's archive endpoint to the receiver's (`ipn:N.64`). `decode_message` checks everything (types, sizes,
no trailing bytes) and raises `DecodeError` naming the problem: a message from the network is never trusted.

| type | fields | meaning |
|---|---|---|
| 1 STORE | manifest, index, data, reply_node | keep chunk `index` of the object (a replica, or a repair) |
| 2 STORED | object_id, holder | `holder` now keeps the whole, verified object |
| 3 GET | object_id, request_id, reply_node, indices | send me these chunks (empty list: all) |
| 4 CHUNK | object_id, request_id, index, data | one chunk, answering a GET |
| 5 CATALOG | entry | a catalogue entry (a PUT, a repair, or a tombstone) to merge |
| 6 LOST | node, declared_unix_s | `node` is declared lost: restore the replicas it held |
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Union

import cbor2

from dtn.archive.model import MAX_CHUNK_BYTES, MAX_CHUNKS, CatalogEntry, Manifest
from dtn.bpv7._cbor import check_text
from dtn.errors import DecodeError

VERSION = 1
MAX_MESSAGE_BYTES = MAX_CHUNK_BYTES + MAX_CHUNKS * 40 + 64 * 1024


class MessageType(IntEnum):
    STORE = 1
    STORED = 2
    GET = 3
    CHUNK = 4
    CATALOG = 5
    LOST = 6


@dataclass(frozen=True, slots=True)
class StoreMsg:
    manifest: Manifest
    index: int
    data: bytes
    reply_node: int


@dataclass(frozen=True, slots=True)
class StoredMsg:
    object_id: str
    holder: int


@dataclass(frozen=True, slots=True)
class GetMsg:
    object_id: str
    request_id: int
    reply_node: int
    indices: tuple[int, ...] = ()  # empty: every chunk


@dataclass(frozen=True, slots=True)
class ChunkMsg:
    object_id: str
    request_id: int
    index: int
    data: bytes


@dataclass(frozen=True, slots=True)
class CatalogMsg:
    entry: CatalogEntry


@dataclass(frozen=True, slots=True)
class LostMsg:
    node: int
    declared_unix_s: float


Message = Union[StoreMsg, StoredMsg, GetMsg, ChunkMsg, CatalogMsg, LostMsg]


def encode_message(msg: Message) -> bytes:
    if isinstance(msg, StoreMsg):
        body = [MessageType.STORE, msg.manifest.to_wire(), msg.index, msg.data, msg.reply_node]
    elif isinstance(msg, StoredMsg):
        body = [MessageType.STORED, msg.object_id, msg.holder]
    elif isinstance(msg, GetMsg):
        body = [MessageType.GET, msg.object_id, msg.request_id, msg.reply_node, list(msg.indices)]
    elif isinstance(msg, ChunkMsg):
        body = [MessageType.CHUNK, msg.object_id, msg.request_id, msg.index, msg.data]
    elif isinstance(msg, CatalogMsg):
        body = [MessageType.CATALOG, msg.entry.to_wire()]
    elif isinstance(msg, LostMsg):
        body = [MessageType.LOST, msg.node, float(msg.declared_unix_s)]
    else:
        raise TypeError(f"not an archive message: {msg!r}")
    return cbor2.dumps([VERSION, *[int(body[0]), *body[1:]]])


def decode_message(data: bytes) -> Message:
    """Parse one archive message; DecodeError on anything malformed."""
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise DecodeError("empty archive message", offset=0)
    if len(data) > MAX_MESSAGE_BYTES:
        raise DecodeError(f"archive message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}", offset=0)
    fp = io.BytesIO(bytes(data))
    check_text(data)  # before cbor2 sees it: cbor2 5 leaks memory on non-UTF-8 text (dtn.bpv7._cbor.check_text)
    try:
        item = cbor2.CBORDecoder(fp, read_size=1).decode()
    except Exception as exc:  # cbor2 raises several types for malformed input
        raise DecodeError(f"archive message is not CBOR: {exc}", offset=fp.tell()) from None
    if fp.tell() != len(data):
        raise DecodeError("trailing bytes after the archive message", offset=fp.tell())
    if not isinstance(item, list) or len(item) < 2:
        raise DecodeError("archive message must be an array [version, type, ...]", offset=0)
    if item[0] != VERSION or isinstance(item[0], bool):
        raise DecodeError(f"archive message version {item[0]!r} not supported (expected {VERSION})", offset=0)
    try:
        kind = MessageType(item[1])
    except (ValueError, TypeError):
        raise DecodeError(f"unknown archive message type {item[1]!r}", offset=0) from None
    fields = item[2:]
    arity = {
        MessageType.STORE: 4,
        MessageType.STORED: 2,
        MessageType.GET: 4,
        MessageType.CHUNK: 4,
        MessageType.CATALOG: 1,
        MessageType.LOST: 2,
    }[kind]
    if len(fields) != arity:
        raise DecodeError(f"{kind.name} message needs {arity} fields, got {len(fields)}", offset=0)
    if kind is MessageType.STORE:
        manifest = Manifest.from_wire(fields[0])
        index, chunk, reply = _index(fields[1], manifest.chunk_count), _bytes(fields[2]), _node(fields[3])
        return StoreMsg(manifest, index, chunk, reply)
    if kind is MessageType.STORED:
        return StoredMsg(_oid(fields[0]), _node(fields[1]))
    if kind is MessageType.GET:
        indices = fields[3]
        if not isinstance(indices, list) or len(indices) > MAX_CHUNKS:
            raise DecodeError("GET indices must be a list of chunk numbers", offset=0)
        return GetMsg(
            _oid(fields[0]), _uint(fields[1]), _node(fields[2]), tuple(_index(i, MAX_CHUNKS) for i in indices)
        )
    if kind is MessageType.CHUNK:
        return ChunkMsg(_oid(fields[0]), _uint(fields[1]), _index(fields[2], MAX_CHUNKS), _bytes(fields[3]))
    if kind is MessageType.CATALOG:
        return CatalogMsg(CatalogEntry.from_wire(fields[0]))
    t = fields[1]
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
        raise DecodeError("LOST time must be a finite number", offset=0)
    return LostMsg(_node(fields[0]), float(t))


def _uint(x: Any) -> int:
    if isinstance(x, bool) or not isinstance(x, int) or not 0 <= x < 2**64:
        raise DecodeError(f"expected an unsigned integer, got {x!r}", offset=0)
    return x


def _node(x: Any) -> int:
    if _uint(x) == 0:
        raise DecodeError("node number 0 is not a node", offset=0)
    return x


def _index(x: Any, count: int) -> int:
    if _uint(x) >= count:
        raise DecodeError(f"chunk index {x} out of range (0..{count - 1})", offset=0)
    return x


def _bytes(x: Any) -> bytes:
    if not isinstance(x, bytes) or len(x) > MAX_CHUNK_BYTES:
        raise DecodeError(f"chunk data must be a byte string of at most {MAX_CHUNK_BYTES} bytes", offset=0)
    return x


def _oid(x: Any) -> str:
    if not (isinstance(x, str) and len(x) == 64 and all(c in "0123456789abcdef" for c in x)):
        raise DecodeError("object id must be 64 lowercase hex digits", offset=0)
    return x
