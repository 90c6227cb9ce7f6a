"""The node's web page and JSON API (docs/node.md, "Web page").

An ASGI app (Starlette) served by hypercorn on Trio, started by the node when `[web] address` is set. It reads
the node's state (`snapshot.py`, no I/O of its own) and changes nothing unless the request carries the node's
web secret (`access.py`). The page itself is one static HTML file (`page.html`) that polls nothing: it listens
to `/api/stream` (server-sent events) and redraws from each snapshot.
"""
