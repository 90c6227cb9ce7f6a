"""The Starlette app of a node's web page: `/` (the page), `/api/...` (the same data as JSON).

GET  /                     the page (static HTML; it draws itself from /api/stream)
GET  /api/snapshot         everything the page shows, in one object
GET  /api/status           the node's status (as `dtn status --json`)
GET  /api/contacts         this node's contacts around now: now, next, and the timeline window
GET  /api/sessions         one row per neighbour: convergence layer, session, queue
GET  /api/events?last=N    recent events (N <= 200); &kind=delivered for one kind
GET  /api/deliveries       recent local deliveries
GET  /api/stream           server-sent events: a snapshot at once, then one after each burst of node events
POST /api/contacts/{peer}  {"state": "up"|"down"|"plan"}: contact override; needs the web secret
"""

from __future__ import annotations

import importlib.resources
import json
from typing import Any

import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from dtn.errors import DtnError
from dtn.web import snapshot as snap
from dtn.web.access import may_change

# A stream sends at least one snapshot this often, so that clocks and "in 4 min" labels move with no events.
HEARTBEAT_S = 5.0
# Events that come together (one bundle: received, stored, forwarded...) are sent as one snapshot.
COALESCE_S = 0.05


class _Changes:
    """Wakes every open stream when the node emits an event (an EventLog sink)."""

    def __init__(self) -> None:
        self.count = 0
        self._event = trio.Event()

    def __call__(self, record: dict[str, Any]) -> None:
        self.count += 1
        self._event.set()
        self._event = trio.Event()

    async def wait(self, seen: int, timeout_s: float) -> int:
        if self.count == seen:
            event = self._event
            with trio.move_on_after(timeout_s):
                await event.wait()
        return self.count


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers={"Cache-Control": "no-store"})


def make_app(node: Any, *, secret: bytes | None = None) -> Starlette:
    """The web app of one running node. `secret` allows changes (None: read-only)."""
    changes = _Changes()
    node.events.add_sink(changes)
    page = importlib.resources.files("dtn.web").joinpath("page.html").read_text(encoding="utf-8")

    async def index(request: Request) -> Response:
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    async def api_snapshot(request: Request) -> Response:
        return _json(snap.snapshot(node))

    async def api_status(request: Request) -> Response:
        return _json(node.status())

    async def api_contacts(request: Request) -> Response:
        return _json(snap.contacts(node, node.plan_now_s()))

    async def api_sessions(request: Request) -> Response:
        return _json(snap.sessions(node, node.status()))

    async def api_events(request: Request) -> Response:
        try:
            last = int(request.query_params.get("last", "50"))
        except ValueError:
            return _json({"error": "last must be a whole number"}, 400)
        return _json(snap.events(node, last=last, kind=request.query_params.get("kind")))

    async def api_deliveries(request: Request) -> Response:
        return _json(snap.events(node, last=50, kind="delivered"))

    async def api_stream(request: Request) -> Response:
        async def frames():
            seen = -1
            while True:
                seen = changes.count
                yield f"data: {json.dumps(snap.snapshot(node), separators=(',', ':'))}\n\n"
                await changes.wait(seen, HEARTBEAT_S)
                await trio.sleep(COALESCE_S)

        return StreamingResponse(
            frames(), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        )

    async def api_contact_override(request: Request) -> Response:
        if not may_change(request.headers.get("authorization"), secret):
            return _json({"error": "read-only: changes need 'Authorization: Bearer <web secret>'"}, 403)
        try:
            peer = int(request.path_params["peer"])
            body = await request.json()
            state = body.get("state") if isinstance(body, dict) else None
        except (ValueError, UnicodeDecodeError):
            return _json({"error": 'expected a JSON object {"state": "up"|"down"|"plan"}'}, 400)
        if state not in ("up", "down", "plan"):
            return _json({"error": "state must be 'up', 'down' or 'plan'"}, 400)
        try:
            await node.set_contact_override(peer, state)
        except DtnError as exc:
            return _json({"error": str(exc)}, 400)
        return _json({"peer": peer, "state": state})

    routes = [
        Route("/", index),
        Route("/api/snapshot", api_snapshot),
        Route("/api/status", api_status),
        Route("/api/contacts", api_contacts),
        Route("/api/sessions", api_sessions),
        Route("/api/events", api_events),
        Route("/api/deliveries", api_deliveries),
        Route("/api/stream", api_stream),
        Route("/api/contacts/{peer:int}", api_contact_override, methods=["POST"]),
    ]
    return Starlette(routes=routes)


async def serve_web(
    node: Any, config: Any, *, agent_token: bytes | None = None, task_status=trio.TASK_STATUS_IGNORED
) -> None:
    """Serve the page with hypercorn on Trio until cancelled; reports the page's URL once it listens. Changes
    need the web secret (`[web] secret_file`) or the node's agent token (when it has a TCP agent socket)."""
    from hypercorn.config import Config as HypercornConfig
    from hypercorn.trio import serve

    from dtn.web.access import load_secret

    secrets = [load_secret(config.secret_file), agent_token]
    app = make_app(node, secret=tuple(s for s in secrets if s) or None)
    hc = HypercornConfig()
    host = f"[{config.host}]" if ":" in config.host else config.host
    hc.bind = [f"{host}:{config.port}"]
    hc.accesslog = None
    hc.graceful_timeout = 1.0
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(serve, app, hc)
        task_status.started(binds[0] + "/")
