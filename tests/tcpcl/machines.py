"""Helpers shared by the TCPCLv4 machine tests: build sessions and pump bytes between two of them."""

from __future__ import annotations

from dtn.tcpcl import Role, Session, TcpclConfig

ACTIVE_ID = "ipn:1.0"
PASSIVE_ID = "ipn:2.0"


def config(node_id: str = ACTIVE_ID, **kwargs) -> TcpclConfig:
    return TcpclConfig(node_id, **kwargs)


def pump(a: Session, b: Session, *pending_from_a: bytes) -> None:
    """Move bytes both ways until both machines are quiet."""
    to_b = b"".join(pending_from_a)
    while True:
        to_b += a.data_to_send()
        if to_b:
            b.receive_data(to_b)
        to_a = b.data_to_send()
        if to_a:
            a.receive_data(to_a)
        to_b = b""
        if not to_a and not a._outbox:
            return


def established_pair(active_kwargs=None, passive_kwargs=None, now_s: float = 0.0) -> tuple[Session, Session]:
    a = Session(config(ACTIVE_ID, **(active_kwargs or {})), Role.ACTIVE, now_s=now_s)
    p = Session(config(PASSIVE_ID, **(passive_kwargs or {})), Role.PASSIVE, now_s=now_s)
    pump(a, p, a.start())
    assert a.established and p.established
    a.events()
    p.events()
    return a, p


def passive_after_contact(**kwargs) -> Session:
    """A passive session that received a valid contact header and answered (its outbox drained)."""
    from dtn.tcpcl import ContactHeader, encode

    p = Session(config(PASSIVE_ID, **kwargs), Role.PASSIVE, now_s=0.0)
    p.receive_data(encode(ContactHeader()))
    p.data_to_send()
    p.events()
    return p


def passive_established(**kwargs) -> Session:
    """A passive session that completed SESS_INIT with a raw peer (outbox and events drained)."""
    from dtn.tcpcl import SessInit, encode

    p = passive_after_contact(**kwargs)
    p.receive_data(encode(SessInit(30, 1 << 20, 1 << 30, ACTIVE_ID)))
    assert p.established
    p.data_to_send()
    p.events()
    return p
