"""BPSec on archive traffic: with the node's [security] policy on, archive bundles are signed at their source
and an unsigned archive message is deleted on arrival, never applied (dtn/node/archive.py uses the node's send
path, so the policy applies to it as to any bundle)."""

from __future__ import annotations

import dataclasses
import os

import trio

from dtn.archive.messages import ChunkMsg, encode_message
from dtn.node import bundles as bp
from dtn.node.clock import TrioClock
from dtn.node.testing import MemoryNetwork
from tests.archive.conftest import CENTRE, USER, archive_configs

RULE = {
    "name": "archive-integrity",
    "service": "integrity",
    "roles": ["source", "acceptor"],
    "bundle_source": "ipn:*.64",
    "security_source": "ipn:*",
    "key": "hmac",
    "targets": ["payload"],
    "required": True,
}


async def test_archive_traffic_is_signed_and_unsigned_messages_are_dropped(constellation, autojump_clock, tmp_path):
    (tmp_path / "hmac.hex").write_text("5c" * 32 + "\n")
    configs = {
        n: dataclasses.replace(c, security={"keys": {"hmac": "hmac.hex"}, "rules": [RULE]}, base_dir=tmp_path)
        for n, c in archive_configs(constellation).items()
    }
    data = os.urandom(30_000)
    async with MemoryNetwork(constellation, clock=TrioClock(constellation.epoch_unix_s), configs=configs) as net:
        nodes = {n.number: await net.start_node(n.number) for n in constellation.nodes}
        put = await nodes[CENTRE].archive.put(data, "signed.bin")
        with trio.fail_after(3600):
            await nodes[CENTRE].archive.wait_put(put["object_id"], "signed.bin", "all")
        await net.stop_node(CENTRE)
        with trio.fail_after(3600):
            assert (await nodes[USER].archive.get("signed.bin"))["data"] == data
        assert not [e for e in net.events if e["event"] == "deleted" and "security" in str(e.get("reason"))]
        forged = bp.create(
            source="ipn:30.64",
            destination=f"ipn:{USER}.64",
            payload=encode_message(ChunkMsg(put["object_id"], 1, 0, b"x")),
            creation_time_ms=bp.unix_to_dtn_ms(nodes[USER].clock.unix_s()),
            sequence=0,
            lifetime_ms=3_600_000,
            report_to="ipn:30.64",
            report_bits=0,
            no_fragment=False,
            crc_type=1,
            hop_limit=64,
        )
        await nodes[USER].receive_from_peer(bp.encode(forged), 30)
        dropped = [e for e in net.events if e["event"] == "deleted" and e.get("src") == "ipn:30.64"]
        assert dropped and dropped[-1]["reason"] == "missing_security_service"
        for n in list(net.nodes):
            await net.stop_node(n)
