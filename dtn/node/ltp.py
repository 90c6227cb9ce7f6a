"""The node's LTP convergence layer: one engine (engine ID = node number) on the `[[listen]] cla = "ltp"` UDP
socket, a span per `[neighbours.N] cla = "ltp"` (sending to `neighbours.N.address`), opened and closed by the
contact manager with the plan's contacts (rate and one-way light time from the contact). docs/ltp.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from dtn.cla.ltp import LtpEndpoint, LtpLink
from dtn.errors import ClaError
from dtn.ltp import LtpConfig
from dtn.ltp.settings import LtpSettings

if TYPE_CHECKING:
    from dtn.node.config import ListenConfig
    from dtn.node.links import SessionFactory
    from dtn.node.node import Node


def endpoint_for(factory: "SessionFactory") -> LtpEndpoint:
    """The node's LTP endpoint, built from its config (one per node)."""
    cfg = factory.node.config
    settings: LtpSettings = cfg.ltp or LtpSettings()
    peers = {n: nb.host_port for n, nb in cfg.neighbours.items() if nb.cla == "ltp" and nb.address is not None}
    engine = LtpConfig(
        engine_id=cfg.node_number,
        mtu_bytes=settings.mtu_bytes,
        max_export_sessions=settings.max_export_sessions,
        max_import_sessions=settings.max_import_sessions,
        max_retransmissions=settings.max_retransmissions,
        timer_margin_s=settings.timer_margin_s,
        inactivity_s=settings.inactivity_s,
    )
    return LtpEndpoint(
        engine,
        peers=peers,
        on_bundle=factory.on_bundle,
        on_link_up=factory.on_link_up,
        on_link_down=factory.on_link_down,
        default_rate_bytes_per_s=settings.rate_bytes_per_s,
        default_owlt_s=settings.owlt_s,
        aggregation_bytes=settings.aggregation_bytes,
        aggregation_s=settings.aggregation_s,
        max_block_retries=settings.max_block_retries,
    )


async def serve_ltp(
    factory: "SessionFactory", listen: "ListenConfig", *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
) -> None:
    if getattr(factory, "ltp", None) is not None:
        raise ClaError("only one [[listen]] with cla = 'ltp' per node (one LTP engine)")
    endpoint = endpoint_for(factory)
    factory.ltp = endpoint
    await endpoint.run(listen.host, listen.port, task_status=task_status)


async def open_span(node: "Node", peer: int) -> LtpLink:
    """The contact with `peer` is wanted: open our span to it, at the contact's rate and one-way light time."""
    endpoint: LtpEndpoint | None = getattr(node.sessions, "ltp", None)
    if endpoint is None:
        raise ClaError(f"neighbour {peer} uses cla = 'ltp' but no [[listen]] with cla = 'ltp' is configured")
    contact = node.schedule.outbound_contact(peer, node.plan_now_s())

    def opened(link: LtpLink) -> None:  # opened here: the contact manager closes it when the contact ends
        node.sessions._dialled[id(link)] = peer

    return await endpoint.open_span(
        peer,
        rate_bytes_per_s=contact.rate_bytes_per_s if contact is not None else None,
        owlt_s=contact.owlt_s if contact is not None else None,
        opened=opened,
    )
