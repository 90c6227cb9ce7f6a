"""The agent protocol's framing, sans-IO: msgpack maps behind a 4-byte length.

A frame is a 32-bit big-endian length N followed by N bytes holding one msgpack map. Requests carry `op` and
`id`; each gets exactly one reply carrying the same `id` and `ok` (true, with result fields; or false, with
`error` text and an error `code`). docs/agent.md lists every op.

The decoder never holds more than `max_message_bytes` of a frame: a longer frame is skipped chunk by chunk (its
bytes are counted, not kept) and reported as `Oversized`, so the connection survives a bad client and memory
stays bounded.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Iterator

import msgpack

PROTOCOL_VERSION = 1
_LEN = struct.Struct(">I")
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024

# Error codes in replies.
BAD_REQUEST = "bad_request"  # malformed frame or fields
UNKNOWN_OP = "unknown_op"
REFUSED = "refused"  # valid request the node declines (quota, unknown endpoint, ...)
INTERNAL = "internal"
UNAUTHORIZED = "unauthorized"  # no (or a wrong) token on the TCP socket; a foreign user on the Unix socket


@dataclass(frozen=True, slots=True)
class Message:
    """A decoded frame."""

    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Malformed:
    """A frame whose bytes are not one msgpack map."""

    reason: str


@dataclass(frozen=True, slots=True)
class Oversized:
    """A frame longer than the limit (skipped)."""

    length_bytes: int


def encode_frame(body: dict[str, Any]) -> bytes:
    data = msgpack.packb(body, use_bin_type=True)
    return _LEN.pack(len(data)) + data


class FrameDecoder:
    """Bytes in (`feed`), frames out (`frames()`); bounded buffer."""

    def __init__(self, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        self.max_message_bytes = max_message_bytes
        self._buf = bytearray()
        self._skip_bytes = 0  # bytes still to discard of an oversized frame
        self._pending: list[Message | Malformed | Oversized] = []

    def feed(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self._skip_bytes:
                n = min(self._skip_bytes, len(view))
                self._skip_bytes -= n
                view = view[n:]
                continue
            self._buf += view
            view = view[len(view) :]
            self._parse()

    def _parse(self) -> None:
        while len(self._buf) >= 4:
            (length,) = _LEN.unpack_from(self._buf, 0)
            if length > self.max_message_bytes:
                self._pending.append(Oversized(length))
                available = len(self._buf) - 4
                if available >= length:
                    del self._buf[: 4 + length]
                    continue
                self._skip_bytes = length - available
                self._buf.clear()
                return
            if len(self._buf) < 4 + length:
                return
            payload = bytes(self._buf[4 : 4 + length])
            del self._buf[: 4 + length]
            self._pending.append(_decode_body(payload))

    def frames(self) -> Iterator[Message | Malformed | Oversized]:
        while self._pending:
            yield self._pending.pop(0)


def _decode_body(payload: bytes) -> Message | Malformed:
    try:
        body = msgpack.unpackb(payload, raw=False, strict_map_key=True, max_bin_len=len(payload))
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        return Malformed(f"not a msgpack message: {type(exc).__name__}: {exc}")
    if not isinstance(body, dict):
        return Malformed(f"a message must be a msgpack map, got {type(body).__name__}")
    if not all(isinstance(k, str) for k in body):
        return Malformed("message keys must be strings")
    return Message(body)


def ok(request_id: Any, **fields: Any) -> dict[str, Any]:
    return {"id": request_id, "ok": True, **fields}


def error(request_id: Any, code: str, text: str) -> dict[str, Any]:
    return {"id": request_id, "ok": False, "code": code, "error": text}
