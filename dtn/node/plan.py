"""The contact plan a node routes with: a plan file, inline contacts, or (neither) its always-on neighbours.

- `[plan] file`: any format `contact_plans.formats.load_plan` reads (native JSON, ION, HDTN).
- `[[plan.contacts]]`: contacts written in the node config, added to the file's (or forming the plan).
- `[plan] epoch`: replaces the plan's epoch (ISO 8601 UTC or Unix seconds); how tests start a plan "now".
- No file and no inline contacts: every configured neighbour is in contact from the node's start for ten
  years at an unlimited rate (a plain always-connected router); bundles go to the neighbour that is their
  destination node and wait otherwise.
"""

from __future__ import annotations

import datetime as dt

from contact_plans.model import Contact, ContactPlan, Node
from dtn.errors import ConfigError, DtnError
from dtn.node.config import NodeConfig

ALWAYS_ON_S = 10 * 365 * 86400.0
ALWAYS_ON_RATE_BYTES_PER_S = 1e12


def load_node_plan(config: NodeConfig, *, start_unix_s: float) -> ContactPlan | None:
    pc = config.plan
    plan: ContactPlan | None = None
    if pc.file is not None:
        from contact_plans.formats import load_plan

        try:
            plan = load_plan(pc.file)
        except FileNotFoundError:
            raise ConfigError(f"plan file not found: {pc.file}", key="plan.file") from None
        except DtnError as exc:
            raise ConfigError(str(exc), key="plan.file") from None
    if pc.contacts:
        if plan is None:
            plan = ContactPlan(epoch=_utc(pc.epoch_unix_s if pc.epoch_unix_s is not None else start_unix_s))
        extra = []
        for c in pc.contacts:
            extra.append(
                Contact(c.from_node, c.to_node, c.start_s, c.end_s, c.rate_bytes_per_s, c.owlt_s, c.confidence)
            )
            if pc.bidirectional:
                extra.append(
                    Contact(c.to_node, c.from_node, c.start_s, c.end_s, c.rate_bytes_per_s, c.owlt_s, c.confidence)
                )
        plan.contacts = plan.contacts + extra
    if plan is None:
        if not config.neighbours:
            return None
        plan = ContactPlan(epoch=_utc(start_unix_s - 1.0), name="neighbours (always on)")
        for peer in sorted(config.neighbours):
            for a, b in ((config.node_number, peer), (peer, config.node_number)):
                plan.contacts.append(Contact(a, b, 0.0, ALWAYS_ON_S, ALWAYS_ON_RATE_BYTES_PER_S))
    elif pc.epoch_unix_s is not None:
        plan.epoch = _utc(pc.epoch_unix_s)
    plan.ensure_nodes()
    if config.node_number not in {n.number for n in plan.nodes}:
        plan.nodes = plan.nodes + [Node(number=config.node_number, name=f"node{config.node_number}")]
    problems = plan.validate()
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ConfigError("invalid contact plan: " + "; ".join(problems[:3]) + more, key="plan")
    return plan


def _utc(unix_s: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(unix_s, tz=dt.timezone.utc)
