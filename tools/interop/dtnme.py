"""spacedtn <-> DTNME over TCPCLv4 (RFC 9174) and MTCP, both ways, plus ping both ways.

    DTNME_BIN   DTNME's built tree: daemon/dtnme and apps/<app>/<app> (default /work/peers/DTNME)

DTNME runs as ipn:20.0 with its API, console and interfaces on 127.0.0.1 and an in-memory store; spacedtn as
ipn:1.0 (`dtn node run`). For each CL, DTNME dials spacedtn (`link add ... ALWAYSON`, `route add ipn:1.*`) and
spacedtn dials DTNME (TCPCLv4: the same session carries both ways; MTCP is one-way, so each side dials the
other). DTNME's own tools make and take the bundles: `send_me -V 7` (10 messages and a 1 MiB file to
ipn:1.1), `recv_me -o` (what spacedtn sends to ipn:20.1, written to files and compared byte for byte),
`echo_me` (ipn:20.7, for `dtn ping`) and `ping_me -V 7` (to spacedtn's echo ipn:1.7).
"""

from __future__ import annotations

import os
import pathlib
import re
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import common  # noqa: E402
from common import Row  # noqa: E402

DTNME_NODE = 20
SPACEDTN_NODE = 1
PAYLOAD_CRC_FAULT = (
    "DTNME deletes bundles whose payload block carries a CRC (RFC 9171 §4.2.1 allows a CRC on "
    "any block); spacedtn puts its one CRC type on every block"
)


def _tree() -> pathlib.Path:
    tree = pathlib.Path(os.environ.get("DTNME_BIN", common.PEERS / "DTNME"))
    for rel in (
        "daemon/dtnme",
        "apps/send_me/send_me",
        "apps/recv_me/recv_me",
        "apps/ping_me/ping_me",
        "apps/echo_me/echo_me",
    ):
        common.need_file(tree / rel, "DTNME", "DTNME_BIN")
    return tree


def _conf(run: pathlib.Path, *, api_port: int, interface: str, link: str | None) -> pathlib.Path:
    lines = [
        'log /dtnme info "spacedtn interop"',
        "console set stdio false",
        "api set local_addr 127.0.0.1",
        f"api set local_port {api_port}",
        "storage set type memorydb",
        f"storage set payloaddir {run}/bundles",
        "storage set dbname DTN",
        f"storage set dbdir {run}/db",
        "route set type static",
        "route local_eid dtn://dtnme.interop",
        f"route local_eid_ipn ipn:{DTNME_NODE}.0",
        "param set announce_ipn true",
        "param set link_min_retry_interval 1",
        "param set link_max_retry_interval 2",
        interface,
    ]
    if link:
        lines += [link, f"route add ipn:{SPACEDTN_NODE}.* spacedtn"]
    (run / "bundles").mkdir(exist_ok=True)
    (run / "db").mkdir(exist_ok=True)
    path = run / "dtnme.conf"
    path.write_text("\n".join(lines) + "\n")
    return path


class Dtnme:
    def __init__(self, tree: pathlib.Path, run: pathlib.Path, conf: pathlib.Path, api_port: int, wait_port: int):
        self.tree, self.run, self.api_port = tree, run, api_port
        self.proc = common.PeerProcess(
            [str(tree / "daemon/dtnme"), "-c", str(conf), "-t", "-l", "info", "-o", str(run / "dtnme.log")],
            cwd=run,
            log=run / "dtnme.out",
        )
        common.wait_port(api_port, timeout_s=60, proc=self.proc.popen)
        common.wait_port(wait_port, timeout_s=30, proc=self.proc.popen)

    def app(self, name: str, *args: str, log: str, wait_s: float | None = 120) -> common.PeerProcess:
        proc = common.PeerProcess(
            [str(self.tree / f"apps/{name}/{name}"), "-A", "127.0.0.1", "-B", str(self.api_port), *args],
            cwd=self.run,
            log=self.run / log,
        )
        if wait_s is not None:
            try:
                proc.popen.wait(wait_s)
            finally:
                proc.stop()
        return proc

    def stop(self) -> None:
        self.proc.stop()


def _dtnme_to_spacedtn(dtnme: Dtnme, node, run: pathlib.Path, cl: str, how: str) -> list[Row]:
    sent = common.payloads(f"dtnme->spacedtn {cl} {how}")
    for i, p in enumerate(sent):
        f = run / f"out-{i}.bin"
        f.write_bytes(p)
        dtnme.app(
            "send_me",
            "-V",
            "7",
            "-s",
            f"ipn:{DTNME_NODE}.1",
            "-d",
            f"ipn:{SPACEDTN_NODE}.1",
            "-t",
            "f",
            "-p",
            str(f),
            "-e",
            "600",
            log=f"send_me-{i}.log",
            wait_s=60,
        )
    got = common.receive_all(node, f"ipn:{SPACEDTN_NODE}.1", len(sent), 60)
    return [
        Row(
            "DTNME",
            cl,
            f"DTNME send_me -> spacedtn (small) [{how}]",
            len(sent) - 1,
            common.count_matching(sent[:-1], got),
        ),
        Row("DTNME", cl, f"DTNME send_me -> spacedtn (1 MiB) [{how}]", 1, common.count_matching(sent[-1:], got)),
    ]


def _spacedtn_to_dtnme(dtnme: Dtnme, node, run: pathlib.Path, cl: str, how: str, crc_type: int) -> list[Row]:
    sent = common.payloads(f"spacedtn->dtnme {cl} {how} crc{crc_type}")
    inbox = run / f"inbox-crc{crc_type}"
    inbox.mkdir()
    recv = dtnme.app(
        "recv_me",
        "-n",
        str(len(sent)),
        "-o",
        str(inbox / "b####.bin"),
        f"ipn:{DTNME_NODE}.1",
        log=f"recv_me-crc{crc_type}.log",
        wait_s=None,
    )
    time.sleep(1.0)  # let recv_me register before the bundles arrive
    for p in sent:
        node.send(f"ipn:{DTNME_NODE}.1", p, lifetime_s=600, crc_type=crc_type)
    common.wait_until(lambda: len(list(inbox.iterdir())) >= len(sent) or not recv.alive(), 60)
    time.sleep(0.5)
    recv.stop()
    got = [f.read_bytes() for f in sorted(inbox.iterdir())]
    known = PAYLOAD_CRC_FAULT if crc_type else ""
    crc = {1: "CRC-16", 2: "CRC-32C"}[crc_type]
    return [
        Row(
            "DTNME",
            cl,
            f"spacedtn -> DTNME recv_me, {crc} (small) [{how}]",
            len(sent) - 1,
            common.count_matching(sent[:-1], got),
            known=known,
        ),
        Row(
            "DTNME",
            cl,
            f"spacedtn -> DTNME recv_me, {crc} (1 MiB) [{how}]",
            1,
            common.count_matching(sent[-1:], got),
            known=known,
        ),
    ]


def _ping_rows(dtnme: Dtnme, node, cl: str) -> list[Row]:
    echo = dtnme.app("echo_me", "-s", f"ipn:{DTNME_NODE}.7", log="echo_me.log", wait_s=None)
    time.sleep(1.0)
    try:
        rtts = node.ping(f"ipn:{DTNME_NODE}.7", count=5, interval_s=0.2, timeout_s=5)
    finally:
        echo.stop()
    answered = [r for r in rtts if r is not None]
    rows = [Row("DTNME", cl, "dtn ping -> DTNME echo_me", len(rtts), len(answered), known=PAYLOAD_CRC_FAULT)]
    ping = dtnme.app(
        "ping_me",
        "-V",
        "7",
        "-c",
        "5",
        "-i",
        "1",
        "-s",
        f"ipn:{DTNME_NODE}.99",
        f"ipn:{SPACEDTN_NODE}.7",
        log="ping_me.log",
        wait_s=30,
    )
    text = ping.log.read_text(errors="replace")
    replies = len(re.findall(r"(?im)^\s*\d+ bytes from|seqno=\d+.*time=", text))
    rows.append(
        Row(
            "DTNME",
            cl,
            "DTNME ping_me -> spacedtn echo",
            5,
            replies,
            "counted from ping_me's output",
            known=PAYLOAD_CRC_FAULT,
        )
    )
    return rows


def _run_tcpcl(tree: pathlib.Path, run: pathlib.Path) -> list[Row]:
    api, d_port, s_port = common.free_port(), common.free_port(), common.free_port()
    rows: list[Row] = []
    # DTNME dials spacedtn
    cfg = common.write_node_config(
        run / "node.toml",
        SPACEDTN_NODE,
        listen=[{"cla": "tcpcl", "host": "127.0.0.1", "port": s_port}],
        neighbours={DTNME_NODE: {"dial": "never"}},
    )
    with common.spacedtn_node(cfg) as (_proc, node):
        conf = _conf(
            run,
            api_port=api,
            interface=f"interface add tcp0 tcp local_addr=127.0.0.1 local_port={d_port}",
            link=f"link add spacedtn 127.0.0.1:{s_port} ALWAYSON tcp",
        )
        dtnme = Dtnme(tree, run, conf, api, d_port)
        try:
            common.wait_until(lambda: common.spacedtn_events(cfg, "contact_up"), 30)
            rows += _dtnme_to_spacedtn(dtnme, node, run, "TCPCLv4", "DTNME dials")
            for crc in (1, 2):
                rows += _spacedtn_to_dtnme(dtnme, node, run, "TCPCLv4", "DTNME dials", crc)
            rows += _ping_rows(dtnme, node, "TCPCLv4")
        finally:
            dtnme.stop()
    return rows


def _run_tcpcl_spacedtn_dials(tree: pathlib.Path, run: pathlib.Path) -> list[Row]:
    api, d_port, s_port = common.free_port(), common.free_port(), common.free_port()
    conf = _conf(
        run, api_port=api, interface=f"interface add tcp0 tcp local_addr=127.0.0.1 local_port={d_port}", link=None
    )
    dtnme = Dtnme(tree, run, conf, api, d_port)
    rows: list[Row] = []
    try:
        cfg = common.write_node_config(
            run / "node.toml",
            SPACEDTN_NODE,
            listen=[{"cla": "tcpcl", "host": "127.0.0.1", "port": s_port}],
            neighbours={DTNME_NODE: {"address": f"127.0.0.1:{d_port}", "dial": "always"}},
        )
        with common.spacedtn_node(cfg) as (_proc, node):
            common.wait_until(lambda: common.spacedtn_events(cfg, "contact_up"), 30)
            rows += _spacedtn_to_dtnme(dtnme, node, run, "TCPCLv4", "spacedtn dials", 1)
    finally:
        dtnme.stop()
    return rows


def _run_mtcp(tree: pathlib.Path, run: pathlib.Path) -> list[Row]:
    api, d_port, s_port = common.free_port(), common.free_port(), common.free_port()
    rows: list[Row] = []
    cfg = common.write_node_config(
        run / "node.toml",
        SPACEDTN_NODE,
        listen=[{"cla": "mtcp", "host": "127.0.0.1", "port": s_port}],
        neighbours={DTNME_NODE: {"address": f"127.0.0.1:{d_port}", "cla": "mtcp", "dial": "always"}},
    )
    conf = _conf(
        run,
        api_port=api,
        interface=f"interface add mtcp0 mtcp local_addr=127.0.0.1 local_port={d_port}",
        link=f"link add spacedtn 127.0.0.1:{s_port} ALWAYSON mtcp",
    )
    dtnme = Dtnme(tree, run, conf, api, d_port)
    try:
        with common.spacedtn_node(cfg) as (_proc, node):
            rows += _dtnme_to_spacedtn(dtnme, node, run, "MTCP", "each side dials")
            for crc in (1, 2):
                rows += _spacedtn_to_dtnme(dtnme, node, run, "MTCP", "each side dials", crc)
    finally:
        dtnme.stop()
    return rows


def exchange() -> list[Row]:
    tree = _tree()
    rows: list[Row] = []
    for name, run_one in (
        ("tcpcl", _run_tcpcl),
        ("tcpcl-spacedtn-dials", _run_tcpcl_spacedtn_dials),
        ("mtcp", _run_mtcp),
    ):
        with common.workdir(f"dtnme-{name}") as run:
            started = time.monotonic()
            rows += run_one(tree, run)
            print(f"# dtnme {name}: {time.monotonic() - started:.1f} s", file=sys.stderr)
    return rows


def main(argv: list[str] | None = None) -> int:
    return common.run_main("dtnme", exchange, argv, script=__file__)


if __name__ == "__main__":
    sys.exit(main())
