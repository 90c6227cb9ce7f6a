"""Every TCPCLv4 session state, what each received message does in it, and what moves it to the next state,
in one place (RFC 9174 §3.3, Figures 4-7). Pure data; the `Session` only looks things up here.

- `TRANSITIONS[state][message type]` is the handler (a function in `dtn.tcpcl.handlers`) a received message runs.
  `reject_unexpected` answers MSG_REJECT(MESSAGE_UNEXPECTED) and the session goes on (RFC 9174 §5.1.2). The
  contact header is not a message: it is read only in CONTACT and handled by `CONTACT_HEADER`.
- `NEXT_STATE[(state, trigger)]` is the state a trigger moves the session to; a pair not in it is a bug
  (`Session.move` raises). Handlers and the session's own calls (close, timers, TLS) name triggers; nothing
  else assigns the state.
- `SENDABLE[state]` is what the local side may send in a state (`Session.send` checks it).
"""

from __future__ import annotations

from enum import Enum

from . import handlers as h
from .messages import ContactHeader, Keepalive, MessageType, MsgReject, SessTerm, XferAck, XferRefuse, XferSegment


class State(Enum):
    """Session states, RFC 9174 §3.3 (Figures 4-7)."""

    CONTACT = "contact"  # waiting for the peer's contact header
    TLS = "tls"  # the adapter runs the TLS handshake (RFC 9174 §4.4); no TCPCL bytes are parsed
    SESS_INIT = "sess_init"  # our SESS_INIT sent, waiting for the peer's
    ESTABLISHED = "established"
    ENDING = "ending"  # a SESS_TERM was sent or received (RFC 9174 §6.1)
    CLOSED = "closed"


_T = MessageType
CONTACT_HEADER = h.on_contact_header

_ESTABLISHED_ROW = {
    _T.SESS_INIT: h.reject_unexpected,  # RFC 9174 §5.1.2 names a second SESS_INIT as the example of "unexpected"
    _T.XFER_SEGMENT: h.on_segment_header,
    _T.XFER_ACK: h.on_xfer_ack,
    _T.XFER_REFUSE: h.on_xfer_refuse,
    _T.KEEPALIVE: h.on_keepalive,
    _T.SESS_TERM: h.on_sess_term,
    _T.MSG_REJECT: h.on_msg_reject,
}

TRANSITIONS: dict[State, dict[MessageType, object]] = {
    State.CONTACT: {},  # only the contact header (CONTACT_HEADER)
    State.TLS: {},  # nothing is parsed while TLS runs
    State.SESS_INIT: {
        _T.SESS_INIT: h.on_sess_init,
        _T.XFER_SEGMENT: h.reject_unexpected,
        _T.XFER_ACK: h.reject_unexpected,
        _T.XFER_REFUSE: h.reject_unexpected,
        _T.KEEPALIVE: h.reject_unexpected,
        _T.SESS_TERM: h.on_sess_term,
        _T.MSG_REJECT: h.on_msg_reject,
    },
    State.ESTABLISHED: dict(_ESTABLISHED_ROW),
    # While ending, transfers in progress may finish; a new incoming START gets XFER_REFUSE(SESSION_TERMINATING)
    # (decided in on_segment_header).
    State.ENDING: {**_ESTABLISHED_ROW, _T.SESS_INIT: h.on_sess_init_while_ending},
    State.CLOSED: {},
}

_S = State
_OPEN = (_S.CONTACT, _S.TLS, _S.SESS_INIT, _S.ESTABLISHED, _S.ENDING)
NEXT_STATE: dict[tuple[State, str], State] = {
    (_S.CONTACT, "contact_tls"): _S.TLS,  # both contact headers set CAN_TLS (RFC 9174 §4.4)
    (_S.CONTACT, "sess_init_sent"): _S.SESS_INIT,  # contact headers exchanged without TLS
    (_S.TLS, "sess_init_sent"): _S.SESS_INIT,  # TLS established
    (_S.SESS_INIT, "sess_init_received"): _S.ESTABLISHED,  # RFC 9174 §4.7
    # SESS_TERM sent or received (RFC 9174 §6.1): in CONTACT when a passive entity refuses at once
    **{(state, "terminating"): _S.ENDING for state in (_S.CONTACT, _S.SESS_INIT, _S.ESTABLISHED, _S.ENDING)},
    # both SESS_TERMs exchanged and nothing in progress, a timeout, the connection closed, or a peer violation
    **{(state, "closed"): _S.CLOSED for state in _OPEN},
}

SENDABLE: dict[State, frozenset[type]] = {
    State.CONTACT: frozenset({ContactHeader, SessTerm}),
    State.TLS: frozenset(),
    State.SESS_INIT: frozenset({SessTerm, MsgReject}),
    State.ESTABLISHED: frozenset({XferSegment, XferAck, XferRefuse, Keepalive, SessTerm, MsgReject}),
    State.ENDING: frozenset({XferSegment, XferAck, XferRefuse, Keepalive, SessTerm, MsgReject}),
    State.CLOSED: frozenset(),
}
