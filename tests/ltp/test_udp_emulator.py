"""The loopback UDP relay (dtn.twin.runner.udp_emulator): forwarding, delay, one-way, CLI errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
import trio

from dtn.errors import ConfigError
from dtn.twin.runner.udp_emulator import UdpRelay
from dtn.twin.udp_emulator import Impairments


async def test_relay_delays_and_forwards_to_the_configured_address_only():
    a = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    b = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    await a.bind(("127.0.0.1", 0))
    await b.bind(("127.0.0.1", 0))
    relay = UdpRelay(
        a_address=a.getsockname(),
        b_address=b.getsockname(),
        a_to_b=Impairments(owlt_s=0.2),
        b_to_a=Impairments(up=False),
    )
    async with trio.open_nursery() as nursery:
        ra, rb = await nursery.start(relay.run)
        start = trio.current_time()
        await a.sendto(b"to b", ("127.0.0.1", ra))
        data, _ = await b.recvfrom(100)
        assert data == b"to b" and trio.current_time() - start >= 0.19
        await b.sendto(b"to a", ("127.0.0.1", rb))  # one-way: b -> a is down
        with trio.move_on_after(0.3) as scope:
            await a.recvfrom(100)
        assert scope.cancelled_caught
        assert relay.stats["b_to_a"]["lost"] == 1
        nursery.cancel_scope.cancel()
    a.close()
    b.close()


def test_relay_refuses_non_loopback_addresses():
    with pytest.raises(ConfigError):
        UdpRelay(a_address=("192.0.2.1", 1), b_address=("127.0.0.1", 2), a_to_b=Impairments(), b_to_a=Impairments())


@pytest.mark.parametrize(
    "args, message",
    [
        (["--a", "10.0.0.1:5", "--b", "127.0.0.1:6"], "not a loopback address"),
        (["--a", "127.0.0.1:5", "--b", "127.0.0.1:6", "--loss", "2"], "probability"),
        (["--a", "127.0.0.1", "--b", "127.0.0.1:6"], "host:port"),
    ],
)
def test_cli_errors_are_one_line(args, message):
    result = subprocess.run(
        [sys.executable, "-m", "dtn.twin.runner.udp_emulator", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ},
    )
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.count("\n") == 1


def test_cli_port_in_use_is_one_line():
    busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    busy.bind(("127.0.0.1", 0))
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "dtn.twin.runner.udp_emulator",
                "--a",
                "127.0.0.1:5",
                "--b",
                "127.0.0.1:6",
                "--a-port",
                str(busy.getsockname()[1]),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ},
        )
    finally:
        busy.close()
    assert result.returncode == 2 and "cannot bind" in result.stderr and result.stderr.count("\n") == 1
