"""CRC per block kind: the primary block and the other blocks separately, in the config and the agent API;
the primary never without a CRC unless a BIB covers it (RFC 9171 §4.3.1)."""

from __future__ import annotations

import datetime as dt

import pytest

from contact_plans.model import Contact, ContactPlan
from contact_plans.model import Node as PlanNode
from dtn.bpv7.codec import decode
from dtn.errors import ConfigError, EncodeError
from dtn.node import bundles as bp
from dtn.node.clock import TrioClock
from dtn.node.config import BundleDefaults, NodeConfig, parse_config
from dtn.node.testing import MemoryNetwork

EPOCH = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
BASE = {"node": {"id": "ipn:1.0"}}


def test_config_keys():
    cfg = parse_config({**BASE, "bundles": {"primary_crc_type": 1, "block_crc_type": 0}})
    assert cfg.bundles.crc_type == 1 and cfg.bundles.block_crc_type == 0
    cfg = parse_config({**BASE, "bundles": {"crc_type": 2}})
    assert cfg.bundles.crc_type == 2 and cfg.bundles.block_crc_type is None
    with pytest.raises(ConfigError, match="bundles.block_crc_type: must be 0"):
        parse_config({**BASE, "bundles": {"block_crc_type": 5}})
    with pytest.raises(ConfigError, match=r"bundles.primary_crc_type: 0 \(no CRC\) needs a \[security\] policy"):
        parse_config({**BASE, "bundles": {"primary_crc_type": 0}})


def test_create_sets_primary_and_block_crcs_apart():
    bundle = bp.create(
        source="ipn:1.1",
        destination="ipn:2.1",
        payload=b"p",
        creation_time_ms=1,
        sequence=0,
        lifetime_ms=1000,
        report_to="ipn:1.1",
        report_bits=0,
        no_fragment=False,
        crc_type=1,
        hop_limit=5,
        block_crc_type=0,
    )
    back = decode(bp.encode(bundle))
    assert int(back.primary.crc_type) == 1
    assert back.blocks and all(int(b.crc_type) == 0 for b in back.blocks)
    assert back.validate() == []
    with pytest.raises(EncodeError, match="primary block needs a CRC"):
        bp.check_primary_crc(
            bp.create(
                source="ipn:1.1",
                destination="ipn:2.1",
                payload=b"p",
                creation_time_ms=1,
                sequence=0,
                lifetime_ms=1000,
                report_to="ipn:1.1",
                report_bits=0,
                no_fragment=False,
                crc_type=0,
                hop_limit=None,
            )
        )


async def test_node_and_agent_options(autojump_clock):
    plan = ContactPlan(
        epoch=EPOCH, nodes=[PlanNode(1), PlanNode(2)], contacts=[Contact(1, 2, 0, 100, 1e6), Contact(2, 1, 0, 100, 1e6)]
    )
    configs = {1: NodeConfig.minimal(1, bundles=BundleDefaults(crc_type=1, block_crc_type=0))}
    async with MemoryNetwork(plan, clock=TrioClock(plan.epoch_unix_s), configs=configs) as net:
        a = await net.start_node(1)
        sent = await a.send_from_application("ipn:9.1", b"dtnme style")  # no route: stays in the store
        got = decode(a.store.read(sent["bundle"]))
        assert int(got.primary.crc_type) == 1 and {int(b.crc_type) for b in got.blocks} == {0}
        sent = await a.send_from_application("ipn:9.1", b"all 32", crc_type=2, block_crc_type=2)
        got = decode(a.store.read(sent["bundle"]))
        assert int(got.primary.crc_type) == 2 and {int(b.crc_type) for b in got.blocks} == {2}
        with pytest.raises(EncodeError, match="unless a BIB covers it"):
            await a.send_from_application("ipn:9.1", b"no crc", crc_type=0, block_crc_type=0)
        assert "no route to ipn:9.1" in sent["note"] and sent["next_hop"] is None


async def test_agent_api_block_crc_type(tmp_path):
    """Through the agent socket: crc_type for the primary, block_crc_type for the others; crc 0 everywhere is
    refused with a clear reason."""
    import trio

    from dtn.client import Client, NodeError
    from dtn.node.config import AgentConfig
    from dtn.node.node import Node
    from dtn.store import MemoryStore

    sock = tmp_path / "a.sock"
    if len(str(sock)) > 100:  # Unix socket paths are short
        import tempfile

        sock = __import__("pathlib").Path(tempfile.mkdtemp(prefix="crc-", dir="/tmp")) / "a.sock"
    node = Node(NodeConfig.minimal(1, agent=AgentConfig(socket=sock)), store=MemoryStore())
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        async with await Client.connect(str(sock)) as client:
            result = await client.send("ipn:9.1", b"payload", crc_type=1, block_crc_type=0)
            got = decode(node.store.read(result.bundle))
            assert int(got.primary.crc_type) == 1 and {int(b.crc_type) for b in got.blocks} == {0}
            assert result.next_hop is None and result.note.startswith("no route to ipn:9.1")
            result = await client.send("ipn:9.1", b"payload", crc_type=2)
            got = decode(node.store.read(result.bundle))
            assert {int(got.primary.crc_type)} | {int(b.crc_type) for b in got.blocks} == {2}
            with pytest.raises(NodeError, match="unless a BIB covers it"):
                await client.send("ipn:9.1", b"payload", crc_type=0)
            with pytest.raises(NodeError, match="block_crc_type must be 0, 1 or 2"):
                await client.send("ipn:9.1", b"payload", block_crc_type=7)
        node.request_stop()
