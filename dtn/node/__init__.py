"""The node: bundle processing, contact manager, agent API, config (Trio lives here and in dtn.cla).

    from dtn.node import Node, NodeConfig, load_config
    node = Node(load_config("node.toml"))          # or Node(config, clock=..., store=..., dialer=..., plan=...)
    trio.run(node.run)

`Node`, `NodeConfig`, `load_config` and `parse_config` are imported lazily, so `dtn.node.clock` stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Node", "NodeConfig", "load_config", "parse_config"]


def __getattr__(name: str) -> Any:
    if name == "Node":
        from dtn.node.node import Node

        return Node
    if name in ("NodeConfig", "load_config", "parse_config"):
        from dtn.node import config

        return getattr(config, name)
    raise AttributeError(f"module 'dtn.node' has no attribute {name!r}")
