"""On reception, a bundle that breaks an RFC 9171 MUST is deleted, with a status report where one is asked for
(issue 15); the node creates no bundle with CRC type 0 and no BIB on the primary block."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from contact_plans.model import Contact, ContactPlan
from contact_plans.model import Node as PlanNode
from dtn.bpv7 import encode
from dtn.bpv7.bundle import BlockFlag, Bundle, BundleFlag
from dtn.bpv7.crc import CrcType
from dtn.errors import EncodeError, ConfigError
from dtn.node.clock import TrioClock
from dtn.node.config import BundleDefaults, NodeConfig, parse_config
from dtn.node.testing import MemoryNetwork

EPOCH = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)


def _plan() -> ContactPlan:
    contacts = [Contact(1, 2, 0, 1000, 1e6), Contact(2, 1, 0, 1000, 1e6)]
    return ContactPlan(epoch=EPOCH, nodes=[PlanNode(1), PlanNode(2)], contacts=contacts)


async def test_previous_node_dtn_none_is_deleted_with_a_status_report(autojump_clock):
    async with MemoryNetwork(_plan(), clock=TrioClock(EPOCH.timestamp())) as net:
        a = await net.start_node(1)
        b = await net.start_node(2)
        now_ms = a.dtn_now_ms()
        bundle = Bundle.create(
            "ipn:1.1",
            "ipn:2.1",
            b"x",
            creation_time_ms=now_ms,
            lifetime_ms=600_000,
            report_to="ipn:1.0",
            flags=BundleFlag.REPORT_DELETION,
            crc_type=CrcType.CRC16,
        )
        await b.receive_from_peer(encode(bundle.with_previous_node("dtn:none")), 1)
        deleted = await net.wait_for(lambda e: e["event"] == "deleted" and e["node"] == "ipn:2.0")
        assert deleted["reason"] == "block_unintelligible" and "not a node ID" in deleted["detail"]
        report = await net.wait_for(lambda e: e["event"] == "status_report" and e["node"] == "ipn:1.0")
        assert "deleted" in report["status"]
        assert not [e for e in net.events if e["event"] == "stored" and e.get("bundle") == deleted["bundle"]]


async def test_admin_record_asking_for_block_reports_is_deleted(autojump_clock):
    async with MemoryNetwork(_plan(), clock=TrioClock(EPOCH.timestamp())) as net:
        await net.start_node(1)
        b = await net.start_node(2)
        bundle = Bundle.create(
            "ipn:1.0",
            "ipn:2.0",
            b"\x82\x01\x80",
            creation_time_ms=b.dtn_now_ms(),
            flags=BundleFlag.IS_ADMIN_RECORD,
            crc_type=CrcType.CRC16,
        )
        bundle = bundle.with_blocks(
            dataclasses.replace(blk, flags=BlockFlag.REPORT_IF_UNPROCESSABLE) for blk in bundle.blocks
        )
        await b.receive_from_peer(encode(bundle), 1)
        deleted = await net.wait_for(lambda e: e["event"] == "deleted" and e["node"] == "ipn:2.0")
        assert "§4.2.4" in deleted["detail"]
        assert not [e for e in net.events if e["event"] == "status_report"]


async def test_the_node_never_creates_crc_type_0_without_a_bib(autojump_clock):
    configs = {1: NodeConfig.minimal(1, bundles=BundleDefaults(crc_type=0))}  # only parse_config refuses this
    async with MemoryNetwork(_plan(), clock=TrioClock(EPOCH.timestamp()), configs=configs) as net:
        a = await net.start_node(1)
        with pytest.raises(EncodeError, match="primary block needs a CRC"):
            await a.send_from_application("ipn:2.1", b"x")
        with pytest.raises(EncodeError, match="primary block needs a CRC"):
            await a.send_from_application("ipn:2.1", b"x", crc_type=0)
        assert a.store.count() == 0
        sent = await a.send_from_application("ipn:2.1", b"x", crc_type=1)
        assert sent["bundle"]


def test_config_refuses_crc_type_0_without_security():
    with pytest.raises(ConfigError) as info:
        parse_config({"node": {"id": "ipn:1.0"}, "bundles": {"crc_type": 0}})
    assert info.value.key == "bundles.crc_type"


async def test_an_internal_crypto_error_refuses_the_transfer_and_deletes_nothing(autojump_clock):
    """Issue 14: only a failed authentication is a BPSec failure (reason 15). Any other crypto-library failure is
    a CryptoInternalError: the node logs it, stores and deletes nothing, and lets the CLA refuse the transfer, so
    the sender keeps the bundle. (The crypto library cannot be made to fail for real here: a stand-in raises.)"""
    from dtn.errors import CryptoInternalError

    class BrokenLibrary:
        def inbound(self, bundle, *, is_local_destination):
            raise CryptoInternalError("BCB-AES-GCM: the library failed: backend unavailable")

        def outbound(self, bundle):
            return bundle

    async with MemoryNetwork(_plan(), clock=TrioClock(EPOCH.timestamp())) as net:
        a = await net.start_node(1)
        b = await net.start_node(2)
        b.security = BrokenLibrary()
        bundle = Bundle.create(
            "ipn:1.1",
            "ipn:2.1",
            b"x",
            creation_time_ms=a.dtn_now_ms(),
            lifetime_ms=600_000,
            report_to="ipn:1.0",
            flags=BundleFlag.REPORT_DELETION,
            crc_type=CrcType.CRC16,
        )
        with pytest.raises(CryptoInternalError):
            await b.receive_from_peer(encode(bundle), 1)
        assert b.store.count() == 0
        assert [e for e in net.events if e["event"] == "security_internal_error" and e["node"] == "ipn:2.0"]
        assert not [e for e in net.events if e["event"] == "deleted" and e["node"] == "ipn:2.0"]
