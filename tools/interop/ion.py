"""spacedtn <-> ION (4.1.x, BPv7) over the convergence layers they share: TCPCLv3, STCP, UDP, LTP over UDP.

    ION_PREFIX  a directory whose bin/ holds ION's programs: an install prefix, or links to the programs of a build
                tree (default /work/peers/ion-run): bin/ionstart, bin/ionadmin, bin/bpsendfile,
                bin/bprecvfile, bin/bpecho, bin/bping, lib/ (found through LD_LIBRARY_PATH)

ION's TCP CL is TCPCLv3 (RFC 7242), and spacedtn's TCPCLv4 cannot talk to it; a CL that this spacedtn build does
not have (its node config refuses `cla = "<name>"`) is reported as not testable, with that reason.

ION runs as ipn:30.0 and spacedtn as ipn:1.0. ION is configured by one rc file given to `ionstart -I` (ionadmin,
ltpadmin, bpadmin, ipnadmin sections; everything on 127.0.0.1; udplso/udplsi given explicit loopback
addresses) and stopped with `ionstop` in ION's multi-instance mode (each module's own shutdown command, never `killm`,
which kills ION processes machine-wide by name); the run is also in its own IPC and PID namespaces (common.py),
so no SysV IPC object or ION daemon outlives it. For each CL: ION's `bpsendfile` sends 10 small files and a 1 MiB one to ipn:1.1,
spacedtn sends the same to ipn:30.1 where `bprecvfile` writes them out (compared byte for byte), `dtn ping`
to ION's `bpecho` on ipn:30.7 and ION's `bping` to spacedtn's echo ipn:1.7.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import common  # noqa: E402
from common import Row  # noqa: E402

ION_NODE = 30
SPACEDTN_NODE = 1
CLS = ("tcpclv3", "stcp", "udp", "ltp")
LABEL = {"tcpclv3": "TCPCLv3", "stcp": "STCP", "udp": "UDP", "ltp": "LTP/UDP"}


def _prefix() -> pathlib.Path:
    prefix = pathlib.Path(os.environ.get("ION_PREFIX", common.PEERS / "ion-run"))
    for tool in ("ionstart", "ionstop", "bpsendfile", "bprecvfile", "bpecho", "bping", "ionadmin"):
        common.need_file(prefix / "bin" / tool, "ION", "ION_PREFIX")
    return prefix


def _env(prefix: pathlib.Path, run: pathlib.Path) -> dict[str, str]:
    path = f"{prefix / 'bin'}:{os.environ.get('PATH', '')}"
    lib = f"{prefix / 'lib'}:{os.environ.get('LD_LIBRARY_PATH', '')}"
    # ION_NODE_LIST_DIR selects ION's multi-instance mode: `ionstop` then shuts each module down with its own
    # admin command ('bpadmin .', 'ltpadmin .', 'ionadmin .') instead of running `killm`, which kills every
    # ION process on the machine by name
    return {"PATH": path, "LD_LIBRARY_PATH": lib, "ION_NODE_LIST_DIR": str(run)}


def _rc(run: pathlib.Path, cla: str, ion_port: int, spacedtn_port: int) -> pathlib.Path:
    duct = {"tcpclv3": "tcp", "stcp": "stcp", "udp": "udp"}.get(cla)
    lines = [
        "## begin ionadmin",
        f"1 {ION_NODE} {run / 'ion.ionconfig'}",
        "s",
        f"a contact +0 +86400 {ION_NODE} {SPACEDTN_NODE} 100000000",
        f"a contact +0 +86400 {SPACEDTN_NODE} {ION_NODE} 100000000",
        f"a range +0 +86400 {ION_NODE} {SPACEDTN_NODE} 0",
        "m production 100000000",
        "m consumption 100000000",
        "## end ionadmin",
    ]
    if cla == "ltp":
        lines += [
            "## begin ltpadmin",
            "1 32",
            f"a span {SPACEDTN_NODE} 32 32 1400 100000 1 'udplso 127.0.0.1:{spacedtn_port}'",
            f"s 'udplsi 127.0.0.1:{ion_port}'",
            "## end ltpadmin",
        ]
    lines += ["## begin bpadmin", "1", "a scheme ipn 'ipnfw' 'ipnadminep'"]
    lines += [f"a endpoint ipn:{ION_NODE}.{s} q" for s in (1, 2, 7)]
    if cla == "ltp":
        lines += ["a protocol ltp", f"a induct ltp {ION_NODE} ltpcli", f"a outduct ltp {SPACEDTN_NODE} ltpclo"]
        plan = f"a plan {SPACEDTN_NODE} ltp/{SPACEDTN_NODE}"
    else:
        outduct = f"127.0.0.1:{spacedtn_port}"
        lines += [f"a protocol {duct}", f"a induct {duct} 127.0.0.1:{ion_port} {duct}cli"]
        lines += [f"a outduct {duct} {outduct} {duct}clo"]
        plan = f"a plan {SPACEDTN_NODE} {duct}/{outduct}"
    lines += ["s", "## end bpadmin", "## begin ipnadmin", plan, "## end ipnadmin"]
    # a distinct SDR name and working-memory key per run: an instance whose shutdown did not finish must not
    # be taken for the next one ("Wrong profile for this SDR")
    index = CLS.index(cla)
    (run / "ion.ionconfig").write_text(
        f"sdrName ion{cla}\nwmKey {0x5D70 + index}\nconfigFlags 1\nheapWords 16000000\nwmSize 64000000\n"
        f"pathName {run}\n"
    )
    path = run / "ion.rc"
    path.write_text("\n".join(lines) + "\n")
    return path


class Ion:
    def __init__(self, prefix: pathlib.Path, run: pathlib.Path, rc: pathlib.Path):
        self.prefix, self.run, self.env = prefix, run, _env(prefix, run)
        # output to a file, not a pipe: the daemons ionstart leaves running inherit its stdout
        with open(run / "ionstart.log", "wb") as log:
            started = subprocess.run(
                [str(prefix / "bin/ionstart"), "-I", str(rc)],
                cwd=run,
                env=os.environ | self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=120,
            )
        if started.returncode != 0:
            self.stop()
            raise common.ExchangeError(f"ionstart failed ({started.returncode}), see {run / 'ionstart.log'}")

    def tool(self, name: str, *args: str, log: str, wait_s: float | None = 120) -> common.PeerProcess:
        proc = common.PeerProcess(
            [str(self.prefix / "bin" / name), *args], cwd=self.run, log=self.run / log, env=self.env
        )
        if wait_s is not None:
            try:
                proc.popen.wait(wait_s)
            except subprocess.TimeoutExpired:
                pass
            proc.stop()
        return proc

    def stop(self) -> None:
        """`ionstop` in multi-instance mode: each module's own shutdown ('bpadmin .', 'ltpadmin .', 'ionadmin .'),
        never `killm`. Anything still left then ends with the run's PID and IPC namespaces."""
        with open(self.run / "ionstop.log", "ab") as log:
            try:
                subprocess.run(
                    [str(self.prefix / "bin/ionstop")],
                    cwd=self.run,
                    env=os.environ | self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=120,
                )
            except subprocess.TimeoutExpired:
                log.write(b"# ionstop did not return within 120 s\n")


def _exchange_one(prefix: pathlib.Path, run: pathlib.Path, cla: str) -> list[Row]:
    label = LABEL[cla]
    udp = cla in ("udp", "ltp")
    ion_port = common.free_udp_port() if udp else common.free_port()
    s_port = common.free_udp_port() if udp else common.free_port()
    listen = {"cla": cla, "host": "127.0.0.1", "port": s_port}
    neighbour = {"address": f"127.0.0.1:{ion_port}", "cla": cla, "dial": "always"}
    cfg = common.write_node_config(run / "node.toml", SPACEDTN_NODE, listen=[listen], neighbours={ION_NODE: neighbour})
    rows: list[Row] = []
    with common.spacedtn_node(cfg) as (_proc, node):
        ion = Ion(prefix, run, _rc(run, cla, ion_port, s_port))
        try:
            rows += _ion_to_spacedtn(ion, node, run, label)
            rows += _spacedtn_to_ion(ion, node, run, label)
            rows.append(_crc32c_to_ion(ion, node, run, label))
            rows += _pings(ion, node, label)
        finally:
            ion.stop()
    return rows


def _big(label: str) -> tuple[int, str]:
    """UDP carries one bundle per datagram: its big bundle is 60000 bytes, not 1 MiB."""
    return (60000, "60 kB") if label == "UDP" else (common.BIG_SIZE_BYTES, "1 MiB")


def _ion_to_spacedtn(ion: Ion, node, run: pathlib.Path, label: str) -> list[Row]:
    size, big = _big(label)
    sent = common.payloads(f"ion->spacedtn {label}", size)
    for i, p in enumerate(sent):
        f = run / f"send-{i}.bin"
        f.write_bytes(p)
        ion.tool(
            "bpsendfile", f"ipn:{ION_NODE}.2", f"ipn:{SPACEDTN_NODE}.1", str(f), log=f"bpsendfile-{i}.log", wait_s=60
        )
    got = common.receive_all(node, f"ipn:{SPACEDTN_NODE}.1", len(sent), 90)
    return [
        Row("ION", label, "ION bpsendfile -> spacedtn (small)", len(sent) - 1, common.count_matching(sent[:-1], got)),
        Row("ION", label, f"ION bpsendfile -> spacedtn ({big})", 1, common.count_matching(sent[-1:], got)),
    ]


def _spacedtn_to_ion(ion: Ion, node, run: pathlib.Path, label: str) -> list[Row]:
    size, big = _big(label)
    sent = common.payloads(f"spacedtn->ion {label}", size)
    inbox = run / "inbox"
    inbox.mkdir()
    recv = ion.tool("bprecvfile", f"ipn:{ION_NODE}.1", str(len(sent)), log="bprecvfile.log", wait_s=None)
    time.sleep(1.0)
    for p in sent:
        node.send(f"ipn:{ION_NODE}.1", p, lifetime_s=600)
    # bprecvfile writes testfile1, testfile2, ... in its working directory
    common.wait_until(lambda: len(list(run.glob("testfile*"))) >= len(sent) or not recv.alive(), 90)
    time.sleep(1.0)
    recv.stop()
    got = [f.read_bytes() for f in sorted(run.glob("testfile*"))]
    return [
        Row("ION", label, "spacedtn -> ION bprecvfile (small)", len(sent) - 1, common.count_matching(sent[:-1], got)),
        Row("ION", label, f"spacedtn -> ION bprecvfile ({big})", 1, common.count_matching(sent[-1:], got)),
    ]


def _crc32c_to_ion(ion: Ion, node, run: pathlib.Path, label: str) -> Row:
    """Bundles whose every block (Hop Count, Previous Node, payload, primary) carries a CRC-32C: PITFALLS says ION
    4.1.3 was seen dropping bundles whose Hop Count block had one ("CRC check failed for extension block")."""
    sent = [f"spacedtn->ion crc32c {label} #{i}".encode() for i in range(5)]
    # bprecvfile writes testfile1.. in the working directory, which must be the node's (multi-instance mode
    # finds the node by it): move the first batch's files out of the way
    earlier = run / "inbox-first"
    earlier.mkdir()
    for f in run.glob("testfile*"):
        f.rename(earlier / f.name)
    inbox = run
    recv = ion.tool("bprecvfile", f"ipn:{ION_NODE}.1", str(len(sent)), log="bprecvfile-crc32c.log", wait_s=None)
    time.sleep(1.0)
    for p in sent:
        node.send(f"ipn:{ION_NODE}.1", p, lifetime_s=600, crc_type=2)
    common.wait_until(lambda: len(list(inbox.glob("testfile*"))) >= len(sent) or not recv.alive(), 60)
    time.sleep(1.0)
    recv.stop()
    got = [f.read_bytes() for f in sorted(inbox.glob("testfile*"))]
    return Row("ION", label, "spacedtn -> ION, CRC-32C on every block", len(sent), common.count_matching(sent, got))


def _pings(ion: Ion, node, label: str) -> list[Row]:
    echo = ion.tool("bpecho", f"ipn:{ION_NODE}.7", log="bpecho.log", wait_s=None)
    time.sleep(1.0)
    try:
        rtts = node.ping(f"ipn:{ION_NODE}.7", count=5, interval_s=0.2, timeout_s=5)
    finally:
        echo.stop()
    answered = [r for r in rtts if r is not None]
    rows = [Row("ION", label, "dtn ping -> ION bpecho", len(rtts), len(answered))]
    ping = ion.tool(
        "bping", "-c", "5", "-i", "1", f"ipn:{ION_NODE}.2", f"ipn:{SPACEDTN_NODE}.7", log="bping.log", wait_s=30
    )
    text = ping.log.read_text(errors="replace")
    replies = len(re.findall(r"(?i)bytes from", text))
    rows.append(Row("ION", label, "ION bping -> spacedtn echo", 5, replies, "counted from bping's output"))
    return rows


NOT_TESTABLE: list[str] = []


def exchange() -> list[Row]:
    prefix = _prefix()
    rows: list[Row] = []
    only = [c for c in os.environ.get("SPACEDTN_INTEROP_ONLY", "").split(",") if c]
    for cla in CLS:
        if only and cla not in only:
            continue
        reason = common.spacedtn_supports(cla)
        if reason is not None:
            line = f"{LABEL[cla]}: not testable, this spacedtn has no such CL ({reason})"
            NOT_TESTABLE.append(line)
            print(f"# ion {line}", file=sys.stderr)
            continue
        with common.workdir(f"ion-{cla}") as run:
            started = time.monotonic()
            rows += _exchange_one(prefix, run, cla)
            print(f"# ion {cla}: {time.monotonic() - started:.1f} s", file=sys.stderr)
    if not rows:
        raise common.PeerMissing("ION is built but this spacedtn shares no CL with it: " + "; ".join(NOT_TESTABLE))
    return rows


def main(argv: list[str] | None = None) -> int:
    return common.run_main("ion", exchange, argv, script=__file__)


if __name__ == "__main__":
    sys.exit(main())
