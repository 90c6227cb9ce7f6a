"""What a node exposes beyond loopback without protection: one warning line each, at start (docs/security.md).

A TCPCLv4 listener on a non-loopback address without TLS lets anyone who reaches it inject bundles under any
source EID and read what the node forwards to them; an MTCP listener (no TLS at all) likewise. The metrics
endpoint shows counts only, but still tells a stranger what the node does.
"""

from __future__ import annotations

import ipaddress

from dtn.node.config import NodeConfig, split_host_port


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost"; False for wildcard (0.0.0.0, ::), other addresses and names."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plaintext_warnings(config: NodeConfig) -> list[str]:
    """One sentence per listener reachable beyond loopback without TLS."""
    out = []
    for listen in config.listen:
        if is_loopback(listen.host):
            continue
        where = f"{listen.cla} listener on {listen.host}:{listen.port}"
        if listen.cla == "mtcp":
            out.append(
                f"{where} is not loopback and MTCP has no TLS: anyone who reaches it can inject bundles "
                "(docs/security.md)"
            )
        elif not config.tls.enabled:
            out.append(
                f"{where} is not loopback and has no TLS ([tls] cert/key/ca): sessions are unauthenticated "
                "plaintext (docs/security.md)"
            )
        elif not config.tls.require:
            out.append(
                f"{where} is not loopback and TLS is optional (tls.require = false): a peer may still "
                "connect in plaintext (docs/security.md)"
            )
    if config.metrics is not None:
        host, port = split_host_port(config.metrics, key="metrics.address")
        if not is_loopback(host):
            out.append(f"metrics endpoint on {host}:{port} is not loopback (docs/security.md)")
    return out
