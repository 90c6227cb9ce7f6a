"""A blocking agent-API client for the one-shot commands (`dtn status`, `dtn send`).

`dtn.client.SyncClient` runs a Trio loop in a thread; importing Trio alone costs more than the whole
start-up budget of a one-shot command (docs/benchmarks.md, "CLI start-up"). These commands make one or two
requests and exit, so a plain blocking socket with the same sans-IO framing (`dtn.agentproto`) does the
job. Long-lived commands (`dtn recv`, `dtn ping`) keep using `SyncClient`.
"""

from __future__ import annotations

import itertools
import os
import pathlib
import re
import socket
from dataclasses import dataclass
from typing import Any, Iterable

from dtn.errors import ClientError
from dtn.agentproto import PROTOCOL_VERSION, FrameDecoder, Malformed, Message, Oversized, encode_frame

_TCP = re.compile(r"^(?:tcp:)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):(\d+)$")


@dataclass(frozen=True, slots=True)
class Sent:
    """What the node answered to `send` (the fields of `dtn.client.SendResult`)."""

    bundle: str
    source: str
    destination: str
    creation_time_ms: int
    sequence: int
    size_bytes: int
    next_hop: int | None = None
    note: str = ""


class QuickClient:
    """Connect, say hello, make requests, close. Every wait is bounded by `timeout_s`."""

    def __init__(
        self, address: str | os.PathLike, *, timeout_s: float = 10.0, token_file: str | os.PathLike | None = None
    ) -> None:
        text = os.fspath(address)
        token: str | None = None
        m = _TCP.match(text) if not text.startswith(("/", ".", "unix:")) else None
        try:
            if m:
                host, port = m.group(1).strip("[]"), int(m.group(2))
                self._sock = socket.create_connection((host, port), timeout=timeout_s)
                token = _find_token(host, port, token_file)  # after connecting: "nothing listens" comes first
            else:
                path = text[5:] if text.startswith("unix:") else text
                if not pathlib.Path(path).exists():
                    raise ClientError(f"no node socket at {path} (is the node running?)")
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self._sock.settimeout(timeout_s)
                self._sock.connect(path)
        except socket.timeout:
            raise ClientError(f"timed out connecting to the node at {text}") from None
        except OSError as exc:
            raise ClientError(f"cannot connect to the node at {text}: {exc.strerror or exc}") from None
        self._decoder = FrameDecoder()
        self._ids = itertools.count(1)
        self._address = text
        try:
            hello = self.request("hello", version=PROTOCOL_VERSION, token=token)
        except BaseException:
            self.close()
            raise
        self.node_id = hello.get("node_id")

    def __enter__(self) -> "QuickClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._sock.close()

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        request_id = next(self._ids)
        body = {"op": op, "id": request_id}
        body.update({k: v for k, v in fields.items() if v is not None})
        try:
            self._sock.sendall(encode_frame(body))
            reply = self._read_reply()
        except socket.timeout:
            raise ClientError(f"the node at {self._address} did not answer {op!r} in time") from None
        except OSError as exc:
            raise ClientError(f"connection to the node lost: {exc.strerror or exc}") from None
        if reply.get("id") != request_id:
            raise ClientError(f"reply out of order (expected id {request_id}, got {reply.get('id')!r})")
        if not reply.get("ok"):
            raise ClientError(str(reply.get("error", "request refused")))
        return reply

    def _read_reply(self) -> dict[str, Any]:
        while True:
            for frame in self._decoder.frames():
                if isinstance(frame, Message):
                    return frame.body
                if isinstance(frame, Oversized):
                    raise ClientError(f"reply too large ({frame.length_bytes} bytes)")
                if isinstance(frame, Malformed):
                    raise ClientError(f"malformed reply: {frame.reason}")
            data = self._sock.recv(65536)
            if not data:
                raise ClientError("the node closed the connection")
            self._decoder.feed(data)

    def status(self) -> dict[str, Any]:
        return self.request("status")["status"]

    def send(
        self,
        destination: str,
        payload: bytes | None = None,
        *,
        file: str | None = None,
        report: Iterable[str] = (),
        no_fragment: bool = False,
        **fields: Any,
    ) -> Sent:
        """As `dtn.client.Client.send`: returns once the bundle is durable in the node's store."""
        if (payload is None) == (file is None):
            raise ClientError("give exactly one of payload or file")
        if file is not None:
            try:
                payload = pathlib.Path(file).read_bytes()
            except OSError as exc:
                raise ClientError(f"cannot read {file}: {exc.strerror or exc}") from None
        reply = self.request(
            "send",
            destination=destination,
            payload=bytes(payload),
            report=list(report) or None,
            no_fragment=no_fragment or None,
            **fields,
        )
        return Sent(**{name: reply[name] for name in Sent.__dataclass_fields__ if name in reply})


def _find_token(host: str, port: int, token_file: str | os.PathLike | None) -> str:
    """The token for a TCP agent address: `token_file`, $DTN_AGENT_TOKEN_FILE, or the node's default file
    (as `dtn.client`; docs/security.md)."""
    from dtn.errors import DtnError
    from dtn.node.agentauth import default_token_path, read_token

    path = token_file or os.environ.get("DTN_AGENT_TOKEN_FILE") or default_token_path(host, port)
    try:
        return read_token(path).decode("ascii", "replace")
    except DtnError as exc:
        raise ClientError(
            f"{exc} (the TCP agent socket needs the node's token: give --token-file or set DTN_AGENT_TOKEN_FILE)"
        ) from None
