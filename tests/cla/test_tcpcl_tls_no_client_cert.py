"""`accept_no_client_cert`: a passive entity that accepts an active peer presenting no TLS client certificate
(as HDTN's outduct does), logging a warning with its address; off by default."""

import functools
import logging

import pytest

from dtn.cla import connect_tcpcl, serve_tcpcl
from dtn.cla.tls import client_context, server_context
from dtn.errors import ClaError
from dtn.tcpcl import TcpclConfig

from .conftest import Inbox


def server_config(ca, node_cert, *, accept: bool) -> TcpclConfig:
    cert, key = node_cert("ipn:2.0")
    ca_pem = ca.cert_pem.bytes()
    return TcpclConfig(
        "ipn:2.0",
        can_tls=True,
        require_tls=True,
        require_node_id_auth=True,
        ssl_context_server=server_context(cert, key, ca_pem, require_client_cert=not accept),
        ssl_context_client=client_context(ca_pem, cert, key),
        accept_no_client_cert=accept,
    )


def anonymous_client(ca) -> TcpclConfig:
    """A client that checks the server's certificate but has none of its own."""
    ctx = client_context(ca.cert_pem.bytes(), check_hostname=False)
    return TcpclConfig(
        "ipn:10.0",
        can_tls=True,
        require_tls=True,
        ssl_context_client=ctx,
        ssl_context_server=ctx,
        require_node_id_auth=True,
    )


async def test_accepted_with_a_warning_naming_the_peer(nursery, ca, node_cert, caplog):
    inbox = Inbox()
    port = await nursery.start(
        functools.partial(
            serve_tcpcl, server_config(ca, node_cert, accept=True), inbox.on_bundle, inbox.on_up, inbox.on_down
        )
    )
    with caplog.at_level(logging.WARNING, logger="dtn.cla.tcpcl"):
        link = await connect_tcpcl(anonymous_client(ca), "127.0.0.1", port, Inbox().on_bundle, nursery=nursery)
        assert link.tls and link.peer_node_id == "ipn:2.0"  # the server's certificate was checked
        await link.send_bundle(b"from an anonymous TLS client")
    assert inbox.bundles == [b"from an anonymous TLS client"]
    assert inbox.up[0].peer_node_id == "ipn:10.0"  # from SESS_INIT only
    warning = [r for r in caplog.records if "presented no client certificate" in r.getMessage()]
    assert warning and "127.0.0.1:" in warning[0].getMessage()
    await link.close()


async def test_refused_by_default(nursery, ca, node_cert):
    inbox = Inbox()
    config = server_config(ca, node_cert, accept=False)
    port = await nursery.start(functools.partial(serve_tcpcl, config, inbox.on_bundle, inbox.on_up, inbox.on_down))
    with pytest.raises(ClaError):
        await connect_tcpcl(anonymous_client(ca), "127.0.0.1", port, Inbox().on_bundle, nursery=nursery)
    assert not inbox.up


async def test_a_certificate_that_is_presented_is_still_checked(nursery, ca, node_cert):
    """Accepting no certificate does not weaken checking one that is presented: ipn:3.0's certificate cannot
    authenticate SESS_INIT ipn:4.0."""
    inbox = Inbox()
    port = await nursery.start(
        functools.partial(
            serve_tcpcl, server_config(ca, node_cert, accept=True), inbox.on_bundle, inbox.on_up, inbox.on_down
        )
    )
    cert, key = node_cert("ipn:3.0")
    ctx = client_context(ca.cert_pem.bytes(), cert, key, check_hostname=False)
    liar = TcpclConfig("ipn:4.0", can_tls=True, ssl_context_client=ctx, ssl_context_server=ctx)
    down = Inbox()
    try:
        link = await connect_tcpcl(
            liar, "127.0.0.1", port, Inbox().on_bundle, nursery=nursery, on_link_down=down.on_down
        )
    except ClaError:
        pass  # refused during the handshake
    else:  # both SESS_INITs crossed: the server's SESS_TERM(CONTACT_FAILURE) ends it right away
        await down.wait_for(lambda: down.down)
        assert "CONTACT_FAILURE" in down.down[0][1]
        with pytest.raises(ClaError):
            await link.send_bundle(b"x")
    assert inbox.up == [] and inbox.bundles == []
