"""Large transfers received in place over real loopback sockets: delivered buffers are reused only when the
node kept no reference to them."""

import functools

import trio

from dtn.cla import connect_tcpcl, serve_tcpcl
from dtn.tcpcl import KiB, TcpclConfig

from .conftest import Inbox


async def start(nursery, on_bundle, **kwargs):
    inbox = Inbox()
    port = await nursery.start(functools.partial(serve_tcpcl, TcpclConfig("ipn:2.0", **kwargs), on_bundle,
                                                 inbox.on_up))
    link = await connect_tcpcl(TcpclConfig("ipn:1.0", **kwargs), "127.0.0.1", port, Inbox().on_bundle,
                               nursery=nursery)
    await inbox.wait_for(lambda: inbox.up)
    return link, inbox.up[0]


def payload(i: int, size_bytes: int = 100 * KiB) -> bytes:
    return bytes([i]) * size_bytes


async def test_kept_buffers_are_never_reused(nursery):
    kept = []

    async def on_bundle(data, link):
        kept.append(data)  # the node keeps the very object it was given

    link, server_link = await start(nursery, on_bundle)
    for i in range(6):
        await link.send_bundle(payload(i))
    assert [type(data) for data in kept] == [bytearray] * 6  # >= preallocate_min_bytes: received in place
    assert kept == [payload(i) for i in range(6)]  # none overwritten by a later transfer
    assert server_link.session._spares == []


async def test_buffers_of_bundles_the_node_copied_are_reused(nursery):
    copies = []

    async def on_bundle(data, link):
        copies.append(bytes(data))  # like dtn.node.links: a copy, the buffer itself is released

    link, server_link = await start(nursery, on_bundle)
    for i in range(6):
        await link.send_bundle(payload(i))
    assert copies == [payload(i) for i in range(6)]
    assert len(server_link.session._spares) == 1  # one buffer went round and round


async def test_views_kept_by_the_node_pin_the_buffer(nursery):
    views = []

    async def on_bundle(data, link):
        views.append(memoryview(data)[:10])  # e.g. a decoded payload that stays a view of the input

    link, _ = await start(nursery, on_bundle)
    for i in range(4):
        await link.send_bundle(payload(i))
    assert [bytes(view) for view in views] == [bytes([i]) * 10 for i in range(4)]


async def test_small_transfers_are_bytes(nursery):
    got = []

    async def on_bundle(data, link):
        got.append(data)

    link, _ = await start(nursery, on_bundle, preallocate_min_bytes=1 * KiB)
    await link.send_bundle(b"small")
    await link.send_bundle(payload(1, 2 * KiB))
    assert [type(data) for data in got] == [bytes, bytearray]
    with trio.fail_after(5):
        await link.close()
