"""The link emulator in virtual time (MockClock) and over real loopback sockets."""

from functools import partial

import pytest
import trio
import trio.testing

from contact_plans.model import Contact, ContactPlan, Node
from dtn.node.clock import TrioClock
from dtn.twin.runner.linkemu import LinkEmulator
from dtn.twin.links import LinkSchedule


def _emulator(contacts, **kw):
    plan = ContactPlan(nodes=[Node(1), Node(2)], contacts=contacts)
    clock = TrioClock(unix_at_zero_s=plan.epoch_unix_s)
    return LinkEmulator(LinkSchedule(plan), clock, plan.epoch_unix_s, **kw), clock


async def test_bytes_flow_with_owlt_until_window_end(autojump_clock):
    emu, clock = _emulator([Contact(1, 2, 0, 100, 1000, owlt_s=2.5), Contact(2, 1, 0, 100, 1000, owlt_s=2.5)])
    a_node, a_emu = trio.testing.memory_stream_pair()
    b_emu, b_node = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(emu.pump, 1, 2, a_emu, b_emu)
        await a_node.send_all(b"hello")
        t0 = clock.now_s()
        assert await b_node.receive_some(100) == b"hello"
        assert abs(clock.now_s() - t0 - 2.5) < 1e-6
        await b_node.send_all(b"back")
        assert await a_node.receive_some(100) == b"back"
        # the window closes at t=100: both ends see the link vanish
        assert await a_node.receive_some(100) == b""
        assert abs(clock.now_s() - 100) < 1e-6
    record = next(iter(emu.traffic.values()))
    assert record.bytes_ab == 5 and record.bytes_ba == 4


async def test_rate_shaping(autojump_clock):
    emu, clock = _emulator([Contact(1, 2, 0, 1000, 100)], shape_rate=True, owlt=False)
    a_node, a_emu = trio.testing.memory_stream_pair()
    b_emu, b_node = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(emu.pump, 1, 2, a_emu, b_emu)
        await a_node.send_all(b"x" * 1000)
        got = b""
        while len(got) < 1000:
            got += await b_node.receive_some(5000)
        assert abs(clock.now_s() - 10.0) < 1e-6  # 1000 bytes at 100 bytes/s
        nursery.cancel_scope.cancel()


async def test_down_link_refuses(autojump_clock):
    emu, clock = _emulator([Contact(1, 2, 50, 60, 100)])
    a_node, a_emu = trio.testing.memory_stream_pair()
    b_emu, b_node = trio.testing.memory_stream_pair()
    await emu.pump(1, 2, a_emu, b_emu)
    assert await a_node.receive_some(10) == b""


async def test_tcp_forwarding_on_loopback():
    plan = ContactPlan(nodes=[Node(1), Node(2)], contacts=[Contact(1, 2, -10, 10_000, 1e9)])
    clock = TrioClock(unix_at_zero_s=plan.epoch_unix_s)
    emu = LinkEmulator(LinkSchedule(plan), clock, plan.epoch_unix_s, owlt=False)

    async def echo(stream):
        async for chunk in stream:
            await stream.send_all(chunk)

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, echo, 0, host="127.0.0.1"))
        target_port = listeners[0].socket.getsockname()[1]
        port = await nursery.start(emu.serve_tcp, 1, 2, ("127.0.0.1", target_port))
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await stream.send_all(b"ping")
        assert await stream.receive_some(10) == b"ping"
        await stream.aclose()
        nursery.cancel_scope.cancel()


async def test_memory_link_owlt_shaping_and_window_end(autojump_clock):
    emu, clock = _emulator(
        [Contact(1, 2, 0, 100, 100, owlt_s=2.0), Contact(2, 1, 0, 100, 100, owlt_s=2.0)], shape_rate=True
    )
    a, b = emu.open_memory_link(1, 2)
    await a.send_all(b"x" * 500)  # 5 s at 100 bytes/s, then 2 s of light time
    got = b""
    while len(got) < 500:
        got += await b.receive_some(1000)
    assert abs(clock.now_s() - 7.0) < 1e-6
    await b.send_all(b"back")
    assert await a.receive_some(2) == b"ba" and await a.receive_some() == b"ck"
    assert await a.receive_some() == b""  # the window ends at 100 s
    assert abs(clock.now_s() - 100) < 1e-6
    with pytest.raises(trio.BrokenResourceError):
        await a.send_all(b"late")
    record = next(iter(emu.traffic.values()))
    assert (record.bytes_ab, record.bytes_ba, record.sessions) == (500, 4, 1)


async def test_memory_link_close_is_end_of_stream_and_down_link_is_none(autojump_clock):
    emu, clock = _emulator([Contact(1, 2, 10, 20, 100)])
    assert emu.open_memory_link(1, 2) is None  # not up yet
    await clock.sleep_until(10)
    a, b = emu.open_memory_link(2, 1)
    await a.aclose()
    assert await b.receive_some() == b""
    with pytest.raises(trio.ClosedResourceError):
        await a.receive_some()


async def test_memory_link_watched_by_a_task_ends_idle_reads(autojump_clock):
    emu, clock = _emulator([Contact(1, 2, 0, 50, 100)])
    async with trio.open_nursery() as nursery:
        a, b = emu.open_memory_link(1, 2, nursery)
        assert await b.receive_some() == b""  # idle until the window ends at 50 s
        assert abs(clock.now_s() - 50) < 1e-6
