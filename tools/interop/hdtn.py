"""spacedtn <-> HDTN over TCPCLv4 (RFC 9174), with and without TLS 1.3, sessions opened from either side.

    HDTN_BIN    HDTN's build directory holding hdtn-one-process, bpgen-async and bping
                (default /work/peers/HDTN/build; binaries are looked up by name below it)

HDTN binds its inducts and ZeroMQ sockets to the wildcard address, so this script always runs inside a
loopback-only network namespace (`unshare --net`, see common.py) and is skipped when it cannot make one.

HDTN runs as ipn:10.0 (`hdtn-one-process`, its echo service on ipn:10.2047) and spacedtn as ipn:1.0
(`dtn node run`). Runs:
- spacedtn dials HDTN's TCPCLv4 induct; spacedtn sends 10 small bundles and a 1 MiB one to HDTN's echo
  service from ipn:1.1 and receives the echoes (payloads compared byte for byte): bundles accepted by HDTN and
  bundles created by HDTN; then `dtn ping ipn:10.2047`.
- HDTN dials spacedtn (its TCPCLv4 outduct, routed by its contact plan): the same echo exchange.
- the same over TLS 1.3 (certificates naming the node IDs, RFC 9174 §4.4), spacedtn dialling.
- HDTN's own tools dialling spacedtn: bpgen-async sends bundles to ipn:1.1; bping pings spacedtn's echo ipn:1.7.
- TCPCLv3, STCP, UDP and LTP over UDP (engine IDs = node numbers) when this spacedtn has them: spacedtn sends to HDTN's induct of that CL, HDTN answers
  through its outduct of that CL (UDP: the big bundle is 60 kB, one bundle per datagram).
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import common  # noqa: E402
from common import Row  # noqa: E402

HDTN_NODE = 10
SPACEDTN_NODE = 1
ECHO_SERVICE = 2047
BPGEN_NODE = 20


def _binaries() -> dict[str, pathlib.Path]:
    build = pathlib.Path(os.environ.get("HDTN_BIN", common.PEERS / "HDTN" / "build"))
    found = {}
    for name in ("hdtn-one-process", "bpgen-async", "bping"):
        hits = [p for p in build.rglob(name) if p.is_file() and os.access(p, os.X_OK)] if build.is_dir() else []
        if not hits:
            raise common.PeerMissing(f"HDTN not built: no {name} under {build} (set HDTN_BIN)")
        found[name] = hits[0]
    return found


def _tcpclv4_induct(port: int, tls: dict | None) -> dict:
    return {
        "name": "tcpclv4_in",
        "convergenceLayer": "tcpcl_v4",
        "boundPort": port,
        "numRxCircularBufferElements": 200,
        "numRxCircularBufferBytesPerElement": 20000,
        "keepAliveIntervalSeconds": 15,
        "tcpclV4MyMaxRxSegmentSizeBytes": 200000,
        "tlsIsRequired": bool(tls),
        "certificatePemFile": (tls or {}).get("cert", ""),
        "privateKeyPemFile": (tls or {}).get("key", ""),
        "diffieHellmanParametersPemFile": "",
    }


def _tcpclv4_outduct(next_hop: int, port: int) -> dict:
    return {
        "name": f"tcpclv4_to_{next_hop}",
        "convergenceLayer": "tcpcl_v4",
        "nextHopNodeId": next_hop,
        "remoteHostname": "127.0.0.1",
        "remotePort": port,
        "maxNumberOfBundlesInPipeline": 50,
        "maxSumOfBundleBytesInPipeline": 50000000,
        "keepAliveIntervalSeconds": 17,
        "tcpclAllowOpportunisticReceiveBundles": True,
        "tcpclV4MyMaxRxSegmentSizeBytes": 200000,
        "tryUseTls": False,
        "tlsIsRequired": False,
        "useTlsVersion1_3": False,
        "doX509CertificateVerification": False,
        "verifySubjectAltNameInX509Certificate": False,
        "certificationAuthorityPemFileForVerification": "",
    }


OTHER_CLS = {"tcpclv3": "TCPCLv3", "stcp": "STCP", "udp": "UDP", "ltp": "LTP/UDP"}
LTP_COMMON = {
    "oneWayLightTimeMs": 50,
    "oneWayMarginTimeMs": 200,
    "clientServiceId": 1,
    "ltpMaxRetriesPerSerialNumber": 5,
    "ltpRandomNumberSizeBits": 64,
    "ltpMaxUdpPacketsToSendPerSystemCall": 1,
    "keepActiveSessionDataOnDisk": False,
    "activeSessionDataOnDiskNewFileDurationMs": 2000,
    "activeSessionDataOnDiskDirectory": "./",
}


def _induct(cla: str, port: int) -> dict:
    """An HDTN induct of another CL (fields as in HDTN's config_files/hdtn examples)."""
    if cla == "tcpclv3":
        return {
            "name": "tcpclv3_in",
            "convergenceLayer": "tcpcl_v3",
            "boundPort": port,
            "numRxCircularBufferElements": 200,
            "numRxCircularBufferBytesPerElement": 20000,
            "keepAliveIntervalSeconds": 15,
            "tcpclV3MyMaxTxSegmentSizeBytes": 200000,
        }
    if cla == "stcp":
        return {
            "name": "stcp_in",
            "convergenceLayer": "stcp",
            "boundPort": port,
            "numRxCircularBufferElements": 200,
            "keepAliveIntervalSeconds": 15,
        }
    if cla == "ltp":
        raise ValueError("LTP inducts need the peer's port: use _ltp_induct")
    return {
        "name": "udp_in",
        "convergenceLayer": "udp",
        "boundPort": port,
        "numRxCircularBufferElements": 2000,
        "numRxCircularBufferBytesPerElement": 65535,
    }


def _ltp_induct(port: int, spacedtn_port: int) -> dict:
    """HDTN's LTP engine 10 on `port` (shared with its outduct), sending reports to spacedtn's engine 1."""
    return LTP_COMMON | {
        "name": "ltp_in",
        "convergenceLayer": "ltp_over_udp",
        "boundPort": port,
        "numRxCircularBufferElements": 100,
        "thisLtpEngineId": HDTN_NODE,
        "remoteLtpEngineId": SPACEDTN_NODE,
        "ltpReportSegmentMtu": 1360,
        "preallocatedRedDataBytes": 200000,
        "ltpRemoteUdpHostname": "127.0.0.1",
        "ltpRemoteUdpPort": spacedtn_port,
        "ltpRxDataSegmentSessionNumberRecreationPreventerHistorySize": 1000,
        "ltpMaxExpectedSimultaneousSessions": 500,
        "delaySendingOfReportSegmentsTimeMsOrZeroToDisable": 20,
    }


def _outduct(cla: str, next_hop: int, port: int, own_port: int = 0) -> dict:
    base = {
        "name": f"{cla}_to_{next_hop}",
        "nextHopNodeId": next_hop,
        "remoteHostname": "127.0.0.1",
        "remotePort": port,
        "maxNumberOfBundlesInPipeline": 50,
        "maxSumOfBundleBytesInPipeline": 50000000,
    }
    if cla == "tcpclv3":
        return base | {
            "convergenceLayer": "tcpcl_v3",
            "keepAliveIntervalSeconds": 17,
            "tcpclV3MyMaxTxSegmentSizeBytes": 200000,
            "tcpclAllowOpportunisticReceiveBundles": True,
        }
    if cla == "stcp":
        return base | {"convergenceLayer": "stcp", "keepAliveIntervalSeconds": 17}
    if cla == "ltp":
        return (
            base
            | LTP_COMMON
            | {
                "convergenceLayer": "ltp_over_udp",
                "thisLtpEngineId": HDTN_NODE,
                "remoteLtpEngineId": next_hop,
                "ltpDataSegmentMtu": 1360,
                "numRxCircularBufferElements": 100,
                "ltpCheckpointEveryNthDataSegment": 0,
                "ltpSenderBoundPort": own_port,
                "ltpSenderPingSecondsOrZeroToDisable": 0,
                "delaySendingOfDataSegmentsTimeMsOrZeroToDisable": 20,
            }
        )
    return base | {"convergenceLayer": "udp"}


def _hdtn_config(
    run: pathlib.Path, induct_port: int, outducts: list[dict], tls: dict | None, induct: dict | None = None
) -> pathlib.Path:
    config = {
        "hdtnConfigName": "spacedtn interop",
        "userInterfaceOn": False,
        "mySchemeName": "unused_scheme_name",
        "myNodeId": HDTN_NODE,
        "myBpEchoServiceId": ECHO_SERVICE,
        "myCustodialSsp": "unused_custodial_ssp",
        "myCustodialServiceId": 0,
        "myRouterServiceId": 100,
        "isAcsAware": False,
        "acsMaxFillsPerAcsPacket": 100,
        "acsSendPeriodMilliseconds": 1000,
        "retransmitBundleAfterNoCustodySignalMilliseconds": 10000,
        "maxBundleSizeBytes": 10000000,
        "maxIngressBundleWaitOnEgressMilliseconds": 2000,
        "bufferRxToStorageOnLinkUpSaturation": False,
        "maxLtpReceiveUdpPacketSizeBytes": 65536,
        "neighborDepletedStorageDelaySeconds": 0,
        "fragmentBundlesLargerThanBytes": 0,
        "enforceBundlePriority": False,
        "zmqBoundRouterPubSubPortPath": common.free_port(),
        "zmqBoundTelemApiPortPath": common.free_port(),
        "inductsConfig": {"inductConfigName": "in", "inductVector": [induct or _tcpclv4_induct(induct_port, tls)]},
        "outductsConfig": {"outductConfigName": "out", "outductVector": outducts},
        "storageConfig": {
            "storageImplementation": "asio_single_threaded",
            "tryToRestoreFromDisk": False,
            "autoDeleteFilesOnExit": True,
            "totalStorageCapacityBytes": 1 << 30,
            "storageDeletionPolicy": "never",
            "storageDiskConfigVector": [{"name": "d1", "storeFilePath": str(run / "store1.bin")}],
        },
    }
    path = run / "hdtn.json"
    path.write_text(json.dumps(config, indent=1))
    return path


def _contact_plan(run: pathlib.Path) -> pathlib.Path:
    """Both directions between HDTN and spacedtn (and bpgen's node) for a day, unlimited rate (HDTN units: s, bit/s)."""
    pairs = [(HDTN_NODE, SPACEDTN_NODE), (SPACEDTN_NODE, HDTN_NODE)]
    contacts = [
        {
            "contact": i,
            "source": a,
            "dest": b,
            "startTime": 0,
            "endTime": 86400,
            "rateBitsPerSec": 1_000_000_000,
            "owlt": 0,
        }
        for i, (a, b) in enumerate(pairs)
    ]
    path = run / "contact_plan.json"
    path.write_text(json.dumps({"contacts": contacts}, indent=1))
    return path


def _tls_files(run: pathlib.Path) -> tuple[dict, dict]:
    """A test CA and certificates naming ipn:10.0 (HDTN) and ipn:1.0 (spacedtn), RFC 9174 §4.4.2."""
    import trustme

    from dtn.cla.tls import issue_node_certificate

    ca = trustme.CA()
    files = {}
    for name, node_id in (("hdtn", f"ipn:{HDTN_NODE}.0"), ("spacedtn", f"ipn:{SPACEDTN_NODE}.0")):
        cert, key = issue_node_certificate(ca.cert_pem.bytes(), ca.private_key_pem.bytes(), node_id)
        (run / f"{name}.crt").write_bytes(cert)
        (run / f"{name}.key").write_bytes(key)
        files[name] = {"cert": str(run / f"{name}.crt"), "key": str(run / f"{name}.key")}
    ca.cert_pem.write_to_path(str(run / "ca.pem"))
    spacedtn_tls = files["spacedtn"] | {"ca": str(run / "ca.pem")}
    return files["hdtn"], spacedtn_tls


class Hdtn:
    def __init__(
        self,
        bins,
        run: pathlib.Path,
        *,
        induct_port: int,
        outducts: list[dict],
        tls: dict | None,
        induct: dict | None = None,
    ):
        cfg = _hdtn_config(run, induct_port, outducts, tls, induct)
        self.proc = common.PeerProcess(
            [str(bins["hdtn-one-process"]), f"--hdtn-config-file={cfg}", f"--contact-plan-file={_contact_plan(run)}"],
            cwd=run,
            log=run / "hdtn.log",
            env={"HDTN_SOURCE_ROOT": str(common.PEERS / "HDTN")},
        )
        if induct is not None and induct["convergenceLayer"] in ("udp", "ltp_over_udp"):
            time.sleep(3.0)  # nothing to connect to: give it the time a TCP induct takes to listen
        else:
            common.wait_port(induct_port, timeout_s=60, proc=self.proc.popen)

    def stop(self) -> None:
        self.proc.stop()


def _echo_rows(node, label: str, tag: str, big_size_bytes: int = common.BIG_SIZE_BYTES) -> list[Row]:
    """Send 10 small + 1 MiB to HDTN's echo service; count the echoes that come back intact."""
    sent = common.payloads(tag, big_size_bytes)
    big = "1 MiB" if big_size_bytes == common.BIG_SIZE_BYTES else f"{big_size_bytes // 1000} kB"
    for p in sent:
        node.send(f"ipn:{HDTN_NODE}.{ECHO_SERVICE}", p, source=f"ipn:{SPACEDTN_NODE}.1", lifetime_s=600)
    got = common.receive_all(node, f"ipn:{SPACEDTN_NODE}.1", len(sent), 90)
    return [
        Row(
            "HDTN",
            label,
            "spacedtn -> HDTN echo -> spacedtn (small)",
            len(sent) - 1,
            common.count_matching(sent[:-1], got),
        ),
        Row("HDTN", label, f"spacedtn -> HDTN echo -> spacedtn ({big})", 1, common.count_matching(sent[-1:], got)),
    ]


def _ping_row(node, label: str, count: int = 10) -> Row:
    rtts = node.ping(f"ipn:{HDTN_NODE}.{ECHO_SERVICE}", count=count, interval_s=0.1, timeout_s=5)
    answered = [r for r in rtts if r is not None]
    note = f"rtt avg {1000 * sum(answered) / len(answered):.1f} ms" if answered else ""
    return Row("HDTN", label, "dtn ping -> HDTN echo", len(rtts), len(answered), note)


def _run_spacedtn_dials(bins, run: pathlib.Path, *, tls: bool) -> list[Row]:
    label = "TCPCLv4+TLS" if tls else "TCPCLv4"
    h_port, s_port = common.free_port(), common.free_port()
    hdtn_tls, spacedtn_tls = _tls_files(run) if tls else (None, None)
    hdtn = Hdtn(bins, run, induct_port=h_port, outducts=[], tls=hdtn_tls)
    rows: list[Row] = []
    try:
        extra = {"tls": spacedtn_tls} if tls else {}
        cfg = common.write_node_config(
            run / "node.toml",
            SPACEDTN_NODE,
            listen=[{"cla": "tcpcl", "host": "127.0.0.1", "port": s_port}],
            neighbours={HDTN_NODE: {"address": f"127.0.0.1:{h_port}", "dial": "always"}},
            extra=extra,
        )
        with common.spacedtn_node(cfg) as (_proc, node):
            tag = "spacedtn dials" + (" tls" if tls else "")
            rows += [_relabel(r, tag) for r in _echo_rows(node, label, f"hdtn-{tag}")]
            rows.append(_relabel(_ping_row(node, label), tag))
            if tls:
                ups = common.spacedtn_events(cfg, "contact_up")
                if not any(e.get("tls") for e in ups):
                    rows.append(Row("HDTN", label, "session used TLS", 1, 0, "contact_up without tls"))
    finally:
        hdtn.stop()
        if not all(r.ok for r in rows):
            print(hdtn.proc.tail(), file=sys.stderr)
    return rows


def _run_hdtn_dials(bins, run: pathlib.Path) -> list[Row]:
    h_port, s_port = common.free_port(), common.free_port()
    cfg = common.write_node_config(
        run / "node.toml",
        SPACEDTN_NODE,
        listen=[{"cla": "tcpcl", "host": "127.0.0.1", "port": s_port}],
        neighbours={HDTN_NODE: {"address": f"127.0.0.1:{h_port}", "dial": "never"}},
    )
    rows: list[Row] = []
    with common.spacedtn_node(cfg) as (_proc, node):
        hdtn = Hdtn(bins, run, induct_port=h_port, outducts=[_tcpclv4_outduct(SPACEDTN_NODE, s_port)], tls=None)
        try:
            common.wait_until(lambda: common.spacedtn_events(cfg, "contact_up"), 30)
            rows += [_relabel(r, "HDTN dials") for r in _echo_rows(node, "TCPCLv4", "hdtn-dials")]
            rows.append(_relabel(_ping_row(node, "TCPCLv4"), "HDTN dials"))
        finally:
            hdtn.stop()
            if not all(r.ok for r in rows):
                print(hdtn.proc.tail(), file=sys.stderr)
    return rows


def _run_hdtn_tools(bins, run: pathlib.Path) -> list[Row]:
    """HDTN's bpgen-async and bping, each with a TCPCLv4 outduct dialling spacedtn directly."""
    s_port = common.free_port()
    cfg = common.write_node_config(
        run / "node.toml",
        SPACEDTN_NODE,
        listen=[{"cla": "tcpcl", "host": "127.0.0.1", "port": s_port}],
        neighbours={BPGEN_NODE: {"dial": "never"}},
    )  # echoes to ipn:20.1 go back over bping's own session
    outducts = run / "outducts.json"
    outducts.write_text(
        json.dumps({"outductConfigName": "to spacedtn", "outductVector": [_tcpclv4_outduct(SPACEDTN_NODE, s_port)]})
    )
    rows: list[Row] = []
    with common.spacedtn_node(cfg) as (_proc, node):
        for size, rate, duration, label in ((100, 10, 1, "small"), (1 << 20, 1, 1, "1 MiB")):
            log = run / f"bpgen-{size}.log"
            gen = common.PeerProcess(
                [
                    str(bins["bpgen-async"]),
                    "--use-bp-version-7",
                    f"--bundle-size={size}",
                    f"--bundle-rate={rate}",
                    f"--duration={duration}",
                    f"--my-uri-eid=ipn:{BPGEN_NODE}.1",
                    f"--dest-uri-eid=ipn:{SPACEDTN_NODE}.1",
                    f"--outducts-config-file={outducts}",
                ],
                cwd=run,
                log=log,
            )
            gen.popen.wait(60)
            gen.stop()
            match = re.search(r"bundle_count: (\d+)", log.read_text(errors="replace"))
            made = int(match.group(1)) if match else 0
            got = common.receive_all(node, f"ipn:{SPACEDTN_NODE}.1", made, 60)
            intact = sum(1 for p in got if len(p) == size)
            rows.append(
                Row(
                    "HDTN",
                    "TCPCLv4",
                    f"HDTN bpgen -> spacedtn ({label})",
                    made,
                    intact,
                    f"{size} B payloads" if made else "bpgen made no bundle",
                )
            )
        log = run / "bping.log"
        ping = common.PeerProcess(
            [
                str(bins["bping"]),
                "--use-bp-version-7",
                "--bundle-rate=5",
                "--duration=3",
                f"--my-uri-eid=ipn:{BPGEN_NODE}.1",
                f"--dest-uri-eid=ipn:{SPACEDTN_NODE}.7",
                f"--outducts-config-file={outducts}",
            ],
            cwd=run,
            log=log,
        )
        ping.popen.wait(60)
        ping.stop()
        text = log.read_text(errors="replace")
        sent = len(re.findall(r"(?im)^.*sen[dt].*ping", text))
        answered = len(re.findall(r"(?i)ping received", text))
        rows.append(Row("HDTN", "TCPCLv4", "HDTN bping -> spacedtn echo", sent, answered, "counted from bping's log"))
    return rows


def _run_other_cl(bins, run: pathlib.Path, cla: str) -> list[Row]:
    """TCPCLv3, STCP or UDP: spacedtn sends to HDTN's induct, HDTN answers through its outduct to spacedtn."""
    label = OTHER_CLS[cla]
    udp = cla in ("udp", "ltp")
    h_port = common.free_udp_port() if udp else common.free_port()
    s_port = common.free_udp_port() if udp else common.free_port()
    cfg = common.write_node_config(
        run / "node.toml",
        SPACEDTN_NODE,
        listen=[{"cla": cla, "host": "127.0.0.1", "port": s_port}],
        neighbours={HDTN_NODE: {"address": f"127.0.0.1:{h_port}", "cla": cla, "dial": "always"}},
        extra={"ltp": {"mtu_bytes": 1400}} if cla == "ltp" else None,
    )
    rows: list[Row] = []
    with common.spacedtn_node(cfg) as (_proc, node):
        induct = _ltp_induct(h_port, s_port) if cla == "ltp" else _induct(cla, h_port)
        hdtn = Hdtn(
            bins,
            run,
            induct_port=h_port,
            outducts=[_outduct(cla, SPACEDTN_NODE, s_port, h_port)],
            tls=None,
            induct=induct,
        )
        try:
            time.sleep(2.0)
            rows += _echo_rows(node, label, f"hdtn-{cla}", 60000 if cla == "udp" else common.BIG_SIZE_BYTES)
            rows.append(_ping_row(node, label))
        finally:
            hdtn.stop()
            if not all(r.ok for r in rows):
                print(hdtn.proc.tail(), file=sys.stderr)
    return rows


def _relabel(row: Row, how: str) -> Row:
    row.direction = f"{row.direction} [{how}]"
    return row


def exchange() -> list[Row]:
    bins = _binaries()
    rows: list[Row] = []
    for name, run_one in (
        ("dials", lambda run: _run_spacedtn_dials(bins, run, tls=False)),
        ("hdtn-dials", lambda run: _run_hdtn_dials(bins, run)),
        ("tls", lambda run: _run_spacedtn_dials(bins, run, tls=True)),
        ("tools", lambda run: _run_hdtn_tools(bins, run)),
    ):
        with common.workdir(f"hdtn-{name}") as run:
            started = time.monotonic()
            rows += run_one(run)
            print(f"# hdtn {name}: {time.monotonic() - started:.1f} s", file=sys.stderr)
    for cla, label in OTHER_CLS.items():
        reason = common.spacedtn_supports(cla)
        if reason is not None:
            print(f"# hdtn {label}: not testable, this spacedtn has no such CL ({reason})", file=sys.stderr)
            continue
        with common.workdir(f"hdtn-{cla}") as run:
            started = time.monotonic()
            rows += _run_other_cl(bins, run, cla)
            print(f"# hdtn {cla}: {time.monotonic() - started:.1f} s", file=sys.stderr)
    return rows


def main(argv: list[str] | None = None) -> int:
    return common.run_main("hdtn", exchange, argv, script=__file__, needs_namespace=True)


if __name__ == "__main__":
    sys.exit(main())
