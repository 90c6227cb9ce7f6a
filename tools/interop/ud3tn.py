"""spacedtn <-> uD3TN over MTCP and TCPCLv3 (RFC 7242), both ways, plus echo both ways.

    UD3TN_BIN   the uD3TN binary (default /work/peers/ud3tn/build/posix/ud3tn)
    UD3TN_DIR   its source tree, for the AAP v1 client in python-ud3tn-utils (default /work/peers/ud3tn)

For each CL (TCPCLv3 only when this spacedtn has it): uD3TN runs as ipn:5.0 with one listener on 127.0.0.1 and its AAP socket in the run directory;
spacedtn runs as ipn:1.0 (`dtn node run`) with a listener and neighbour 5 over that CL. uD3TN learns its
contact to ipn:1.0 from a configuration bundle sent through AAP to ipn:5.9000 (its config agent). Then:
10 small bundles + 1 MiB each way (payloads compared byte for byte), `dtn ping` to uD3TN's echo agent
(ipn:5.9002), and an AAP client at uD3TN pinging spacedtn's echo service (ipn:1.7).

Run: `python tools/interop/ud3tn.py [--json]`.
"""

from __future__ import annotations

import os
import pathlib
import socket
import sys
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import common  # noqa: E402
from common import Row  # noqa: E402

UD3TN_NODE = 5
SPACEDTN_NODE = 1
CONTACT_S = 3600
CONTACT_RATE_BYTES_PER_S = 100_000_000


def _paths() -> tuple[pathlib.Path, pathlib.Path]:
    source = pathlib.Path(os.environ.get("UD3TN_DIR", common.PEERS / "ud3tn"))
    binary = pathlib.Path(os.environ.get("UD3TN_BIN", source / "build/posix/ud3tn"))
    common.need_file(binary, "uD3TN", "UD3TN_BIN")
    common.need_file(source / "python-ud3tn-utils/ud3tn_utils/aap/aap_client.py", "uD3TN's AAP client", "UD3TN_DIR")
    return binary, source


def _aap(source: pathlib.Path):
    """uD3TN's own AAP v1 client and config message, from its source tree (run-time only, never copied)."""
    sys.path.insert(0, str(source / "python-ud3tn-utils"))
    from ud3tn_utils.aap import AAPMessageType, AAPUnixClient
    from ud3tn_utils.config import ConfigMessage, make_contact

    return AAPUnixClient, AAPMessageType, ConfigMessage, make_contact


class AapReceiver:
    """An AAP client registered on one agent ID, collecting payloads in a thread."""

    def __init__(self, client_cls, msg_types, sock: pathlib.Path, agent_id: str):
        self.client = client_cls(address=str(sock))
        self.client.connect()
        self.client.register(agent_id)
        self.types = msg_types
        self.payloads: list[bytes] = []
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            try:
                msg = self.client.receive()
            except OSError:
                return
            if msg is None:
                return
            if msg.msg_type == self.types.RECVBUNDLE:
                self.payloads.append(bytes(msg.payload))

    def close(self) -> None:
        try:
            self.client.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.client.socket.close()
        self.thread.join(5)


CLS = {"mtcp": "MTCP", "tcpclv3": "TCPCLv3"}
# uD3TN 0.13's TCPCLv3 parser takes only DATA_SEGMENTs with both START and END set (components/cla/posix/
# cla_tcpclv3_proto.c): a bundle split over several segments, which RFC 7242 §5.2 allows, is dropped after the
# segments were written. spacedtn's default segment (1 MiB) splits a 1 MiB bundle in two, so send whole bundles.
CL_OPTIONS = {"tcpclv3": {"cla.tcpclv3": {"segment_bytes": 16 * 1024 * 1024}}}


def exchange() -> list[Row]:
    binary, source = _paths()
    aap = _aap(source)
    rows: list[Row] = []
    for cla, label in CLS.items():
        reason = common.spacedtn_supports(cla)
        if reason is not None:
            print(f"# ud3tn {label}: not testable, this spacedtn has no such CL ({reason})", file=sys.stderr)
            continue
        with common.workdir(f"ud3tn-{cla}") as run:
            rows += _exchange_one(binary, aap, run, cla, label)
    return rows


def _exchange_one(binary, aap_api, run: pathlib.Path, cla: str, label: str) -> list[Row]:
    AAPUnixClient, AAPMessageType, ConfigMessage, make_contact = aap_api
    rows: list[Row] = []
    u_port, s_port = common.free_port(), common.free_port()
    aap_sock = run / "ud3tn.socket"
    peer = common.PeerProcess(
        [
            str(binary),
            "-e",
            f"ipn:{UD3TN_NODE}.0",
            "-b",
            "7",
            "-c",
            f"{cla}:127.0.0.1,{u_port}",
            "-s",
            str(aap_sock),
            "-S",
            str(run / "ud3tn.aap2.socket"),
            "-L",
            "3",
        ],
        cwd=run,
        log=run / "ud3tn.log",
    )
    try:
        common.wait_port(u_port, proc=peer.popen)
        cfg = common.write_node_config(
            run / "node.toml",
            SPACEDTN_NODE,
            listen=[{"cla": cla, "host": "127.0.0.1", "port": s_port}],
            neighbours={UD3TN_NODE: {"address": f"127.0.0.1:{u_port}", "cla": cla, "dial": "always"}},
            extra=CL_OPTIONS.get(cla),
        )
        with common.spacedtn_node(cfg) as (_proc, node):
            # uD3TN's contact to spacedtn: its config agent, through AAP (as its aap_config.py tool does)
            with AAPUnixClient(address=str(aap_sock)) as aap:
                aap.register("4001")
                message = ConfigMessage(
                    f"ipn:{SPACEDTN_NODE}.0",
                    f"{cla}:127.0.0.1:{s_port}",
                    contacts=[make_contact(0, CONTACT_S, CONTACT_RATE_BYTES_PER_S)],
                )
                aap.send_bundle(f"ipn:{UD3TN_NODE}.9000", bytes(message))
            rows += _spacedtn_to_ud3tn(node, AAPUnixClient, AAPMessageType, aap_sock, label)
            rows += _ud3tn_to_spacedtn(node, AAPUnixClient, aap_sock, label)
            rows.append(_ping_ud3tn(node, label))
            rows.append(_ping_spacedtn(AAPUnixClient, AAPMessageType, aap_sock, label))
    finally:
        peer.stop()
        if not all(r.ok for r in rows):
            print(peer.tail(), file=sys.stderr)
    return rows


def _spacedtn_to_ud3tn(node, client_cls, msg_types, aap_sock, label: str) -> list[Row]:
    sent = common.payloads("spacedtn->ud3tn")
    receiver = AapReceiver(client_cls, msg_types, aap_sock, "1")
    try:
        for p in sent:
            node.send(f"ipn:{UD3TN_NODE}.1", p, lifetime_s=600)
        common.wait_until(lambda: len(receiver.payloads) >= len(sent), 60)
        got = list(receiver.payloads)
    finally:
        receiver.close()
    small = common.count_matching(sent[:-1], got)
    big = common.count_matching(sent[-1:], got)
    return [
        Row("uD3TN", label, "spacedtn -> uD3TN (small)", len(sent) - 1, small),
        Row("uD3TN", label, "spacedtn -> uD3TN (1 MiB)", 1, big),
    ]


def _ud3tn_to_spacedtn(node, client_cls, aap_sock, label: str) -> list[Row]:
    sent = common.payloads("ud3tn->spacedtn")
    with client_cls(address=str(aap_sock)) as aap:
        aap.register("2")
        for p in sent:
            aap.send_bundle(f"ipn:{SPACEDTN_NODE}.1", p)
    got = common.receive_all(node, f"ipn:{SPACEDTN_NODE}.1", len(sent), 60)
    return [
        Row("uD3TN", label, "uD3TN -> spacedtn (small)", len(sent) - 1, common.count_matching(sent[:-1], got)),
        Row("uD3TN", label, "uD3TN -> spacedtn (1 MiB)", 1, common.count_matching(sent[-1:], got)),
    ]


def _ping_ud3tn(node, label: str) -> Row:
    rtts = node.ping(f"ipn:{UD3TN_NODE}.9002", count=5, interval_s=0.2, timeout_s=5)
    answered = [r for r in rtts if r is not None]
    note = f"rtt avg {1000 * sum(answered) / len(answered):.1f} ms" if answered else ""
    return Row("uD3TN", label, "dtn ping -> uD3TN echo", len(rtts), len(answered), note)


def _ping_spacedtn(client_cls, msg_types, aap_sock, label: str) -> Row:
    """uD3TN's AAP client sends to spacedtn's echo service and waits for each reply (as aap_ping.py does)."""
    sent, answered, rtts = 5, 0, []
    with client_cls(address=str(aap_sock)) as aap:
        aap.register("3")
        aap.socket.settimeout(5)
        for seq in range(sent):
            payload = f"ud3tn-ping {seq}".encode()
            started = time.monotonic()
            aap.send_bundle(f"ipn:{SPACEDTN_NODE}.7", payload)
            try:
                while True:
                    msg = aap.receive()
                    if msg is None:
                        break
                    if msg.msg_type == msg_types.RECVBUNDLE and bytes(msg.payload) == payload:
                        answered += 1
                        rtts.append(time.monotonic() - started)
                        break
            except OSError:  # timeout: no reply
                pass
    note = f"rtt avg {1000 * sum(rtts) / len(rtts):.1f} ms" if rtts else ""
    return Row("uD3TN", label, "uD3TN AAP ping -> spacedtn echo", sent, answered, note)


def main(argv: list[str] | None = None) -> int:
    return common.run_main("ud3tn", exchange, argv, script=__file__)


if __name__ == "__main__":
    sys.exit(main())
