"""TLS failures reach the log at warning level (so stderr by default), with the peer and the reason (issue 15)."""

from __future__ import annotations

import logging

import pytest
import trustme

from dtn.cla import connect_tcpcl
from dtn.cla.tls import client_context
from dtn.errors import ClaError
from dtn.tcpcl import TcpclConfig

from .conftest import Inbox
from .test_tcpcl_loopback import start_server


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "dtn.cla.tcpcl"]


async def test_untrusted_certificate_is_a_warning_with_peer_and_reason(nursery, tls_configs, caplog):
    caplog.set_level(logging.WARNING, logger="dtn.cla.tcpcl")
    port = await start_server(nursery, tls_configs("ipn:2.0"), Inbox())
    config = TcpclConfig("ipn:1.0", can_tls=True, ssl_context_client=client_context(trustme.CA().cert_pem.bytes()))
    with pytest.raises(ClaError, match="TLS"):
        await connect_tcpcl(config, "127.0.0.1", port, Inbox().on_bundle, nursery=nursery)
    messages = _warnings(caplog)
    assert any(
        "TLS handshake" in m and f"127.0.0.1:{port}" in m and "CERTIFICATE_VERIFY_FAILED" in m for m in messages
    ), messages


async def test_certificate_not_naming_the_node_is_a_warning(nursery, tls_configs, caplog):
    caplog.set_level(logging.WARNING, logger="dtn.cla.tcpcl")
    port = await start_server(nursery, tls_configs("ipn:2.0", cert_node_id="ipn:666.0"), Inbox())
    with pytest.raises(ClaError, match="not authenticated"):
        await connect_tcpcl(tls_configs("ipn:1.0"), "127.0.0.1", port, Inbox().on_bundle, nursery=nursery)
    messages = _warnings(caplog)
    assert any("not authenticated by its certificate" in m and f"127.0.0.1:{port}" in m for m in messages), messages
