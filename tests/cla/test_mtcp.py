"""MTCP (uD3TN's CBOR-framed TCP CLA): framing properties and interop with pyd3tn's MTCP client."""

import functools
import socket

import cbor2
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from dtn.cla import MtcpDecoder, connect_mtcp, encode_mtcp, serve_mtcp
from dtn.errors import ClaError, DecodeError

from ..conftest import examples
from .conftest import Inbox

try:
    from pyd3tn.mtcp import MTCPConnection, MTCPSocket
except ModuleNotFoundError:  # the `interop` extra is not installed (e.g. the newest-versions run, cbor2 6)
    MTCPConnection = MTCPSocket = None
needs_pyd3tn = pytest.mark.skipif(MTCPConnection is None, reason="pyd3tn (the interop extra) is not installed")


@settings(max_examples=examples(200))
@given(bundles=st.lists(st.binary(max_size=70_000), max_size=5), cuts=st.lists(st.integers(0, 400_000), max_size=8))
def test_framing_round_trips_under_any_chunking(bundles, cuts):
    stream = b"".join(encode_mtcp(b) for b in bundles)
    assert stream == b"".join(cbor2.dumps(b) for b in bundles)  # the same bytes cbor2 writes
    decoder = MtcpDecoder()
    bounds = [0] + sorted(c % (len(stream) + 1) for c in cuts) + [len(stream)]
    out = []
    for start, end in zip(bounds, bounds[1:]):
        out += decoder.feed(stream[start:end])
    assert out == bundles


@pytest.mark.parametrize("bad", [b"\x01", cbor2.dumps("text"), b"\x5f\x41a\xff", b"\x5c"])
def test_non_byte_string_frames_are_decode_errors(bad):
    with pytest.raises(DecodeError):
        MtcpDecoder().feed(bad)
    decoder = MtcpDecoder()
    assert decoder.feed(b"\x41a" + bad) == [b"a"]  # the whole bundle before the error is kept
    assert decoder.error is not None and decoder.error.offset == 2
    with pytest.raises(DecodeError):
        decoder.feed(b"\x41b")


def test_oversize_frame_is_refused_from_its_header():
    decoder = MtcpDecoder(max_bundle_bytes=1000)
    decoder.feed(b"\x41a")
    with pytest.raises(DecodeError, match="exceeds") as info:
        decoder.feed(b"\x5b" + (1 << 40).to_bytes(8, "big"))
    assert info.value.offset == 2


@needs_pyd3tn
async def test_pyd3tn_mtcp_client_sends_to_our_listener(nursery):
    inbox = Inbox()
    port = await nursery.start(functools.partial(serve_mtcp, inbox.on_bundle, inbox.on_up, inbox.on_down))
    payloads = [b"", b"small", bytes(range(256)) * 1000]

    def client():
        with MTCPConnection("127.0.0.1", port, timeout=5) as conn:
            for data in payloads:
                conn.send_bundle(data)

    await trio.to_thread.run_sync(client)
    await inbox.wait_for(lambda: len(inbox.bundles) == len(payloads) and inbox.down)
    assert inbox.bundles == payloads
    assert inbox.up[0].cla_name == "mtcp"


@needs_pyd3tn
async def test_pyd3tn_mtcp_socket_receives_from_our_connector(nursery):
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    payloads = [b"hello uD3TN", b"\x00" * 70_000]

    def server():
        conn, _ = listener.accept()
        with conn:
            mtcp = MTCPSocket(conn, timeout=5)
            return [mtcp.recv_bundle() for _ in payloads]

    async with trio.open_nursery() as inner:
        result = []
        inner.start_soon(lambda: _collect(result, server))
        link = await connect_mtcp("127.0.0.1", port, Inbox().on_bundle, nursery=nursery)
        for data in payloads:
            await link.send_bundle(data)
    assert result[0] == payloads
    await link.close()
    assert link.closed
    with pytest.raises(ClaError):
        await link.send_bundle(b"late")
    listener.close()


async def _collect(result, fn):
    result.append(await trio.to_thread.run_sync(fn))


async def test_garbage_closes_the_mtcp_connection_and_listener_goes_on(nursery):
    inbox = Inbox()
    port = await nursery.start(
        functools.partial(serve_mtcp, inbox.on_bundle, inbox.on_up, inbox.on_down, max_bundle_bytes=1000)
    )
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(encode_mtcp(b"ok") + b"\x5a\xff\xff\xff\xff")
    with trio.fail_after(5):
        while await stream.receive_some(100):
            pass
    await inbox.wait_for(lambda: inbox.down)
    assert inbox.bundles == [b"ok"] and "exceeds" in inbox.down[0][1]
    link = await connect_mtcp("127.0.0.1", port, Inbox().on_bundle, nursery=nursery)
    await link.send_bundle(b"again")
    await inbox.wait_for(lambda: inbox.bundles == [b"ok", b"again"])
