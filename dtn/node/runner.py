"""Running one node as a process: what `dtn node run` and `python -m dtn.node run` both do.

`run_until_signal` runs the node until SIGINT/SIGTERM (then stops it gracefully) and prints the ready line
(JSON, with the pid) on stdout; `check_summary` is what `dtn node check` shows. Errors are raised as they are
(`DtnError`, `OSError`); the caller turns them into one line on stderr.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from typing import Any


def run_until_signal(config_path: str, *, quiet: bool = False, epoch_unix_s: float | None = None) -> int:
    """Run the node of `config_path` until SIGINT/SIGTERM (`dtn node run` and `python -m dtn.node run`);
    `epoch_unix_s` overrides the plan epoch."""
    import dataclasses

    import trio

    from dtn.node.config import load_config
    from dtn.node.node import Node, first_error

    config = load_config(config_path)
    if epoch_unix_s is not None:
        config = dataclasses.replace(config, plan=dataclasses.replace(config.plan, epoch_unix_s=epoch_unix_s))
    logging.basicConfig(
        level=getattr(logging, config.log_level.upper()),
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    node = Node(config, threaded_store=True)

    async def watch_signals(signals) -> None:
        async for _ in signals:
            node.request_stop()

    async def main() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(watch_signals, signals)
                ready = await nursery.start(node.run)
                if not quiet:
                    print(json.dumps(dict(ready, pid=os.getpid())), flush=True)
                await node.finished.wait()
                nursery.cancel_scope.cancel()

    try:
        trio.run(main)
    except BaseExceptionGroup as group:
        found = first_error(group)
        if found is None:
            raise
        raise found from None
    return 0


def check_summary(config_path: str) -> dict[str, Any]:
    """Load and validate a node config and its contact plan; a summary of what the node would run."""
    from dtn.node.config import load_config
    from dtn.node.plan import load_node_plan

    config = load_config(config_path)
    plan = load_node_plan(config, start_unix_s=time.time())
    return {
        "node_id": config.node_id,
        "dtn_id": config.dtn_id,
        "store": str(config.store.path) if config.store.path else "memory",
        "listen": [f"{item.cla}://{item.host}:{item.port}" for item in config.listen],
        "neighbours": {str(n): nb.address for n, nb in sorted(config.neighbours.items())},
        "agent": str(config.agent.socket) if config.agent.socket else config.agent.tcp,
        "plan_contacts": len(plan.contacts) if plan else 0,
        "plan_epoch": plan.epoch.isoformat() if plan else None,
        "echo_service": config.echo_service,
        "event_log": str(config.event_log) if config.event_log else None,
    }
