"""dtn/agentproto/__init__.py: framing survives any chunking; oversized and malformed frames are skipped, not fatal."""

from __future__ import annotations

import struct

import msgpack
from hypothesis import given
from hypothesis import strategies as st

from dtn.agentproto import FrameDecoder, Malformed, Message, Oversized, encode_frame

values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.binary(max_size=50) | st.text(max_size=20),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=4),
    max_leaves=12,
)
messages = st.dictionaries(st.text(max_size=8), values, max_size=5)


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:])]


@given(st.lists(messages, max_size=5), st.lists(st.integers(0, 10_000), max_size=20))
def test_round_trip_any_chunking(bodies, cuts):
    stream = b"".join(encode_frame(b) for b in bodies)
    decoder = FrameDecoder()
    out = []
    for chunk in _chunks(stream, cuts):
        decoder.feed(chunk)
        out.extend(decoder.frames())
    assert out == [Message(b) for b in bodies]


@given(st.integers(1001, 5000), st.lists(st.integers(0, 10_000), max_size=10))
def test_oversized_frame_is_skipped_then_stream_resyncs(length, cuts):
    stream = struct.pack(">I", length) + b"\x00" * length + encode_frame({"op": "status", "id": 1})
    decoder = FrameDecoder(max_message_bytes=1000)
    out = []
    for chunk in _chunks(stream, cuts):
        decoder.feed(chunk)
        out.extend(decoder.frames())
        assert len(decoder._buf) <= 1004 + 64
    assert out == [Oversized(length), Message({"op": "status", "id": 1})]


def test_malformed_frames():
    decoder = FrameDecoder()
    for payload in (b"\xc1", msgpack.packb([1, 2]), msgpack.packb({1: 2}), b"\x92\x01"):
        decoder.feed(struct.pack(">I", len(payload)) + payload)
    frames = list(decoder.frames())
    assert len(frames) == 4 and all(isinstance(f, Malformed) for f in frames)


@given(st.binary(max_size=300))
def test_random_bytes_never_raise(data):
    decoder = FrameDecoder(max_message_bytes=100)
    decoder.feed(data)
    for frame in decoder.frames():
        assert isinstance(frame, (Message, Malformed, Oversized))
