"""Node configuration: one TOML file, validated into frozen dataclasses.

Every problem raises `ConfigError(reason, key=...)` naming the dotted key (`neighbours.2.address`) and what is
wrong with it. Unknown keys are errors too (a typo must not silently fall back to a default). Relative paths
are resolved against the directory of the config file. docs/node.md documents every key.
"""

from __future__ import annotations

import datetime as dt
import math
import pathlib
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any, Mapping

from dtn.errors import ConfigError, DtnError

_IPN_NODE = re.compile(r"^ipn:(\d+)\.0$")
_IPN_ENDPOINT = re.compile(r"^ipn:(\d+)\.(\d+)$")
_DTN_NODE = re.compile(r"^dtn://[A-Za-z0-9._~!$&'()*+,;=:@-]+/$")
_DTN_ENDPOINT = re.compile(r"^dtn://[A-Za-z0-9._~!$&'()*+,;=:@-]+/[!-~]*$")

DIAL_MODES = ("auto", "always", "never")
NO_ROUTE_ACTIONS = ("wait", "delete")
MAX_IPN_NUMBER = 2**64 - 1


@dataclass(frozen=True, slots=True)
class ListenConfig:
    """A CLA listener: `[[listen]]`."""

    cla: str = "tcpcl"
    host: str = "127.0.0.1"
    port: int = 4556


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """TLS for TCPCLv4 sessions (RFC 9174 §4.4): `[tls]`. Paths are absolute once loaded."""

    cert: pathlib.Path | None = None
    key: pathlib.Path | None = None
    ca: pathlib.Path | None = None
    require: bool = False
    accept_no_client_cert: bool = False  # accept an active peer without a client certificate (HDTN); off by default

    @property
    def enabled(self) -> bool:
        return self.ca is not None or self.cert is not None


@dataclass(frozen=True, slots=True)
class NeighbourConfig:
    """How to reach a neighbour node: `[neighbours.<node number>]`."""

    node: int
    address: str | None = None  # "host:port"; None: the neighbour dials us
    cla: str = "tcpcl"
    dial: str = "auto"

    @property
    def host_port(self) -> tuple[str, int]:
        if self.address is None:
            raise ConfigError("no address configured", key=f"neighbours.{self.node}.address")
        return split_host_port(self.address, key=f"neighbours.{self.node}.address")


@dataclass(frozen=True, slots=True)
class InlineContact:
    """A contact written in the config file: `[[plan.contacts]]` (plan seconds, bytes per second)."""

    from_node: int
    to_node: int
    start_s: float
    end_s: float
    rate_bytes_per_s: float
    owlt_s: float = 0.0
    confidence: float = 1.0


@dataclass(frozen=True, slots=True)
class PlanConfig:
    """`[plan]`: a plan file and/or inline contacts; `epoch_unix_s` overrides the file's epoch."""

    file: pathlib.Path | None = None
    epoch_unix_s: float | None = None
    contacts: tuple[InlineContact, ...] = ()
    bidirectional: bool = False  # inline contacts also give the reverse direction


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """`[store]`: `path` None is an in-memory store (lost on exit)."""

    path: pathlib.Path | None = None
    max_bytes: int | None = None
    max_bundles: int | None = None


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """`[agent]`: the local application socket."""

    socket: pathlib.Path | None = None
    tcp: str | None = None  # "127.0.0.1:4242"
    max_message_bytes: int = 64 * 1024 * 1024
    token_file: pathlib.Path | None = None  # the TCP socket's secret; None: dtn.node.agentauth.default_token_path


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    """`[routing]`: what the node does with bundles it must forward."""

    no_route: str = "wait"
    rate_limit: bool = False
    fragment: bool = True
    min_fragment_payload_bytes: int = 1024
    retry_min_s: float = 0.2
    retry_max_s: float = 5.0
    keepalive_s: int = 15
    session_idle_s: float = 0.0  # close an idle session after this long outside any contact (0: at once)


@dataclass(frozen=True, slots=True)
class BundleDefaults:
    """`[bundles]`: defaults for bundles created by local applications."""

    lifetime_s: float = 86400.0
    hop_limit: int | None = 64
    crc_type: int = 1  # RFC 9171 §4.2.1: 1 = CRC-16 X.25, 2 = CRC-32C
    block_crc_type: int | None = None  # the other blocks' CRC (None: crc_type); 0 meets DTNME (docs/cla.md)


@dataclass(frozen=True, slots=True)
class ClockConfig:
    """`[clock]`: a process uses the wall clock; `offset_s` shifts it (clock-skew experiments)."""

    source: str = "wall"
    offset_s: float = 0.0


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """A whole node configuration (see docs/node.md)."""

    node_id: str
    node_number: int
    dtn_id: str | None = None
    endpoints: tuple[str, ...] = ()
    clock: ClockConfig = field(default_factory=ClockConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    plan: PlanConfig = field(default_factory=PlanConfig)
    listen: tuple[ListenConfig, ...] = ()
    tls: TlsConfig = field(default_factory=TlsConfig)
    neighbours: Mapping[int, NeighbourConfig] = field(default_factory=dict)
    agent: AgentConfig = field(default_factory=AgentConfig)
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    bundles: BundleDefaults = field(default_factory=BundleDefaults)
    echo_service: int | None = None
    event_log: pathlib.Path | None = None
    log_level: str = "warning"
    metrics: str | None = None  # "host:port"
    security: Mapping[str, Any] | None = None
    cla_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # `[cla.<name>]`, merged over defaults
    routes: tuple[Any, ...] = ()  # `[[routes]]`: routing.static.StaticRoute, in file order
    compute: Any = None  # dtn.compute.config.ComputeConfig when `[compute]` is configured (docs/compute.md)
    archive: Any = None  # dtn.archive.config.ArchiveConfig when `[archive]` is configured (docs/archive.md)
    web: Any = None  # dtn.web.config.WebConfig when `[web]` is configured (docs/node.md)
    ltp: Any = None  # dtn.ltp.settings.LtpSettings from `[ltp]` (docs/ltp.md)
    base_dir: pathlib.Path = field(default_factory=pathlib.Path.cwd)

    def options_for_cla(self, name: str) -> Mapping[str, Any]:
        """`[cla.<name>]` merged over the CLA's defaults."""
        from dtn.cla.registry import check_options

        return self.cla_options.get(name) or check_options(name, {}, key=f"cla.{name}")

    @classmethod
    def minimal(cls, node_number: int, **kwargs: Any) -> "NodeConfig":
        """A config for node `ipn:<node_number>.0` with defaults (in-process nodes, the digital twin)."""
        return cls(node_id=f"ipn:{node_number}.0", node_number=node_number, **kwargs)


# -- parsing ---------------------------------------------------------------------------------------------------


def load_config(path: str | pathlib.Path) -> NodeConfig:
    """Read and validate a node TOML file."""
    path = pathlib.Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return parse_config(data, base_dir=path.resolve().parent)


def parse_config(data: Mapping[str, Any], *, base_dir: str | pathlib.Path | None = None) -> NodeConfig:
    """Validate a config already parsed from TOML (a dict). Relative paths resolve against `base_dir`."""
    from dtn.cla.registry import check_options, get_cla  # here: importing the config module loads no CLA code

    base = pathlib.Path(base_dir) if base_dir is not None else pathlib.Path.cwd()
    top = _Table(data, "")
    top.allow(
        "node",
        "clock",
        "store",
        "plan",
        "listen",
        "tls",
        "neighbours",
        "agent",
        "routing",
        "bundles",
        "echo",
        "log",
        "metrics",
        "security",
        "archive",
        "compute",
        "cla",
        "routes",
        "web",
        "ltp",
    )

    node = top.table("node", required=True)
    node.allow("id", "dtn_id", "endpoints")
    node_id = node.str("id", required=True)
    match = _IPN_NODE.match(node_id)
    if not match:
        raise ConfigError(f"must be an ipn node ID of the form ipn:N.0, got {node_id!r}", key="node.id")
    node_number = int(match.group(1))
    if node_number == 0 or node_number > MAX_IPN_NUMBER:
        raise ConfigError(f"node number must be in 1..{MAX_IPN_NUMBER}", key="node.id")
    dtn_id = node.str("dtn_id")
    if dtn_id is not None and not _DTN_NODE.match(dtn_id):
        raise ConfigError(f"must be a dtn node ID like dtn://name/, got {dtn_id!r}", key="node.dtn_id")
    endpoints = tuple(node.str_list("endpoints"))
    for i, eid in enumerate(endpoints):
        check_local_endpoint(eid, node_number, dtn_id, key=f"node.endpoints[{i}]")

    clock_t = top.table("clock")
    clock_t.allow("source", "offset_s")
    source = clock_t.str("source") or "wall"
    if source != "wall":
        raise ConfigError(f"unknown clock source {source!r} (a node process runs on 'wall')", key="clock.source")
    clock = ClockConfig(source=source, offset_s=clock_t.number("offset_s", default=0.0))

    store_t = top.table("store")
    store_t.allow("path", "max_bytes", "max_bundles")
    store = StoreConfig(
        path=store_t.path("path", base),
        max_bytes=store_t.int("max_bytes", minimum=1),
        max_bundles=store_t.int("max_bundles", minimum=1),
    )

    plan_t = top.table("plan")
    plan_t.allow("file", "epoch", "contacts", "bidirectional")
    contacts = []
    for i, ct in enumerate(plan_t.table_list("contacts")):
        ct.allow("from", "to", "start_s", "end_s", "rate_bytes_per_s", "owlt_s", "confidence")
        c = InlineContact(
            from_node=ct.int("from", required=True, minimum=1),
            to_node=ct.int("to", required=True, minimum=1),
            start_s=ct.number("start_s", required=True),
            end_s=ct.number("end_s", required=True),
            rate_bytes_per_s=ct.number("rate_bytes_per_s", required=True),
            owlt_s=ct.number("owlt_s", default=0.0),
            confidence=ct.number("confidence", default=1.0),
        )
        where = ct.prefix
        if c.end_s <= c.start_s:
            raise ConfigError("end_s must be after start_s", key=f"{where}.end_s")
        if c.rate_bytes_per_s <= 0:
            raise ConfigError("must be positive", key=f"{where}.rate_bytes_per_s")
        if c.owlt_s < 0:
            raise ConfigError("must be >= 0", key=f"{where}.owlt_s")
        if not 0 < c.confidence <= 1:
            raise ConfigError("must be in (0, 1]", key=f"{where}.confidence")
        if c.from_node == c.to_node:
            raise ConfigError("a contact must join two different nodes", key=f"{where}.to")
        contacts.append(c)
    plan = PlanConfig(
        file=plan_t.path("file", base),
        epoch_unix_s=_epoch(plan_t.raw("epoch"), "plan.epoch"),
        contacts=tuple(contacts),
        bidirectional=plan_t.bool("bidirectional", default=False),
    )

    listen = []
    for lt in top.table_list("listen"):
        lt.allow("cla", "host", "port")
        cla = lt.str("cla") or "tcpcl"
        get_cla(cla, key=f"{lt.prefix}.cla")
        listen.append(
            ListenConfig(
                cla=cla, host=lt.str("host") or "127.0.0.1", port=lt.int("port", default=4556, minimum=0, maximum=65535)
            )
        )

    tls_t = top.table("tls")
    tls_t.allow("cert", "key", "ca", "require", "accept_no_client_cert")
    tls = TlsConfig(
        cert=tls_t.path("cert", base, must_exist=True),
        key=tls_t.path("key", base, must_exist=True),
        ca=tls_t.path("ca", base, must_exist=True),
        require=tls_t.bool("require", default=False),
        accept_no_client_cert=tls_t.bool("accept_no_client_cert", default=False),
    )
    if tls.accept_no_client_cert and (tls.cert is None or tls.ca is None):
        raise ConfigError("needs cert and key (we are the TLS server) and ca", key="tls.accept_no_client_cert")
    if (tls.cert is None) != (tls.key is None):
        raise ConfigError("cert and key must be given together", key="tls.key" if tls.key is None else "tls.cert")
    if tls.require and not tls.enabled:
        raise ConfigError("require = true needs a ca (and/or cert and key)", key="tls.require")

    neighbours: dict[int, NeighbourConfig] = {}
    nb_t = top.table("neighbours")
    for name in nb_t.keys():
        key = f"neighbours.{name}"
        if not str(name).isdigit() or int(name) == 0:
            raise ConfigError("neighbours are keyed by ipn node number (e.g. [neighbours.2])", key=key)
        number = int(name)
        if number == node_number:
            raise ConfigError("a node cannot be its own neighbour", key=key)
        value = nb_t.raw(name)
        if isinstance(value, str):
            nb = NeighbourConfig(node=number, address=value)
        else:
            sub = nb_t.table(name)
            sub.allow("address", "cla", "dial")
            cla = sub.str("cla") or "tcpcl"
            get_cla(cla, key=f"{key}.cla")
            dial = sub.str("dial") or "auto"
            if dial not in DIAL_MODES:
                raise ConfigError(f"must be one of {', '.join(DIAL_MODES)}", key=f"{key}.dial")
            nb = NeighbourConfig(node=number, address=sub.str("address"), cla=cla, dial=dial)
        if nb.address is not None:
            split_host_port(nb.address, key=f"{key}.address")
        elif nb.cla == "ltp":
            raise ConfigError("an LTP neighbour needs the UDP address of its engine", key=f"{key}.address")
        elif nb.dial == "always":
            raise ConfigError("dial = 'always' needs an address", key=f"{key}.address")
        neighbours[number] = nb

    agent_t = top.table("agent")
    agent_t.allow("socket", "tcp", "max_message_bytes", "token_file")
    agent = AgentConfig(
        socket=agent_t.path("socket", base),
        tcp=agent_t.str("tcp"),
        max_message_bytes=agent_t.int("max_message_bytes", default=64 * 1024 * 1024, minimum=1024),
        token_file=agent_t.path("token_file", base),
    )
    if agent.token_file is not None and agent.tcp is None:
        raise ConfigError("a token file is for the TCP agent socket: set agent.tcp too", key="agent.token_file")
    if agent.tcp is not None:
        host, _ = split_host_port(agent.tcp, key="agent.tcp")
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ConfigError("the agent API listens on loopback only (127.0.0.1 or ::1)", key="agent.tcp")

    rt = top.table("routing")
    rt.allow(
        "no_route",
        "rate_limit",
        "fragment",
        "min_fragment_payload_bytes",
        "retry_min_s",
        "retry_max_s",
        "keepalive_s",
        "session_idle_s",
    )
    no_route = rt.str("no_route") or "wait"
    if no_route not in NO_ROUTE_ACTIONS:
        raise ConfigError(f"must be one of {', '.join(NO_ROUTE_ACTIONS)}", key="routing.no_route")
    routing = RoutingConfig(
        no_route=no_route,
        rate_limit=rt.bool("rate_limit", default=False),
        fragment=rt.bool("fragment", default=True),
        min_fragment_payload_bytes=rt.int("min_fragment_payload_bytes", default=1024, minimum=1),
        retry_min_s=rt.number("retry_min_s", default=0.2, positive=True),
        retry_max_s=rt.number("retry_max_s", default=5.0, positive=True),
        keepalive_s=rt.int("keepalive_s", default=15, minimum=0, maximum=65535),
        session_idle_s=rt.number("session_idle_s", default=0.0, minimum=0.0),
    )
    if routing.retry_max_s < routing.retry_min_s:
        raise ConfigError("must be >= retry_min_s", key="routing.retry_max_s")

    bt = top.table("bundles")
    bt.allow("lifetime_s", "hop_limit", "crc_type", "primary_crc_type", "block_crc_type")
    crc_type = bt.int("crc_type", default=1)
    if crc_type not in (0, 1, 2):
        raise ConfigError("must be 0 (none), 1 (CRC-16) or 2 (CRC-32C)", key="bundles.crc_type")
    primary_crc = bt.int("primary_crc_type", default=crc_type)
    block_crc = bt.int("block_crc_type", default=crc_type)
    for name, value in (("primary_crc_type", primary_crc), ("block_crc_type", block_crc)):
        if value not in (0, 1, 2):
            raise ConfigError("must be 0 (none), 1 (CRC-16) or 2 (CRC-32C)", key=f"bundles.{name}")
    if primary_crc == 0 and top.raw("security") is None:
        # RFC 9171 §4.3.1: a primary block without a CRC must be covered by a BIB, which only [security] adds.
        key = "bundles.primary_crc_type" if bt.raw("primary_crc_type") is not None else "bundles.crc_type"
        raise ConfigError(
            "0 (no CRC) needs a [security] policy that signs the primary block (RFC 9171 §4.3.1); use 1 or 2", key=key
        )
    hop_limit = bt.int("hop_limit", default=64, minimum=0, maximum=255)
    bundles = BundleDefaults(
        lifetime_s=bt.number("lifetime_s", default=86400.0, positive=True),
        hop_limit=hop_limit or None,
        crc_type=primary_crc,
        block_crc_type=None if block_crc == primary_crc else block_crc,
    )

    echo_t = top.table("echo")
    echo_t.allow("service")
    echo_service = echo_t.int("service", minimum=0)
    if echo_service == 0:
        echo_service = None

    log_t = top.table("log")
    log_t.allow("events", "level")
    level = (log_t.str("level") or "warning").lower()
    if level not in ("debug", "info", "warning", "error"):
        raise ConfigError("must be one of debug, info, warning, error", key="log.level")

    metrics_t = top.table("metrics")
    metrics_t.allow("address")
    metrics = metrics_t.str("address")
    if metrics is not None:
        split_host_port(metrics, key="metrics.address")

    routes = []
    for rt_t in top.table_list("routes"):
        rt_t.allow("to", "via")
        via = rt_t.int("via", required=True, minimum=1)
        if via not in neighbours:
            raise ConfigError(
                f"via = {via} is not a configured neighbour (add [neighbours.{via}])", key=f"{rt_t.prefix}.via"
            )
        from routing.static import StaticRoute

        try:
            routes.append(StaticRoute(rt_t.str("to", required=True), via))
        except DtnError as exc:
            raise ConfigError(str(exc), key=f"{rt_t.prefix}.to") from None

    cla_t = top.table("cla")
    cla_options = {name: check_options(name, cla_t.table(name).data, key=f"cla.{name}") for name in cla_t.keys()}

    security = top.raw("security")
    if security is not None and not isinstance(security, Mapping):
        raise ConfigError("must be a table", key="security")

    return NodeConfig(
        node_id=node_id,
        node_number=node_number,
        dtn_id=dtn_id,
        endpoints=endpoints,
        clock=clock,
        store=store,
        plan=plan,
        listen=tuple(listen),
        tls=tls,
        neighbours=neighbours,
        agent=agent,
        routing=routing,
        bundles=bundles,
        echo_service=echo_service,
        event_log=log_t.path("events", base),
        log_level=level,
        metrics=metrics,
        security=dict(security) if security is not None else None,
        cla_options=cla_options,
        routes=tuple(routes),
        archive=_archive_table(top.raw("archive"), base),
        compute=_compute_table(top.raw("compute"), base),
        web=_web_table(top.raw("web"), base),
        ltp=_ltp_table(top.raw("ltp")),
        base_dir=base,
    )


def _web_table(data: Any, base: pathlib.Path) -> Any:
    from dtn.web.config import parse_web_table

    return parse_web_table(data, base_dir=base)


def _compute_table(data: Any, base: pathlib.Path) -> Any:
    from dtn.compute.config import parse_compute_table

    return parse_compute_table(data, base_dir=base)


def _archive_table(data: Any, base: pathlib.Path) -> Any:
    from dtn.archive.config import parse_archive_table

    return parse_archive_table(data, base_dir=base)


def _ltp_table(data: Any) -> Any:
    from dtn.ltp.settings import parse_ltp_table

    return parse_ltp_table(data)


def split_host_port(text: str, *, key: str) -> tuple[str, int]:
    """'127.0.0.1:4556' or '[::1]:4556' -> (host, port)."""
    if not isinstance(text, str):
        raise ConfigError(f"expected 'host:port', got {text!r}", key=key)
    m = re.match(r"^\[([0-9A-Fa-f:.]+)\]:(\d+)$", text) or re.match(r"^([^:\[\]]+):(\d+)$", text)
    if not m:
        raise ConfigError(f"expected 'host:port' (IPv6 as [::1]:port), got {text!r}", key=key)
    port = int(m.group(2))
    if not 0 <= port <= 65535:
        raise ConfigError(f"port {port} out of range 0..65535", key=key)
    return m.group(1), port


def check_local_endpoint(eid: str, node_number: int, dtn_id: str | None, *, key: str) -> None:
    """An endpoint an application may register: ipn:<our number>.S or under our dtn node ID."""
    m = _IPN_ENDPOINT.match(eid)
    if m:
        if int(m.group(1)) != node_number:
            raise ConfigError(f"{eid} is not an endpoint of node ipn:{node_number}.0", key=key)
        return
    if _DTN_ENDPOINT.match(eid):
        if dtn_id is None or not eid.startswith(dtn_id):
            raise ConfigError(f"{eid} is not under this node's dtn ID ({dtn_id or 'none configured'})", key=key)
        return
    raise ConfigError(f"not an endpoint ID (ipn:N.S or dtn://node/demux): {eid!r}", key=key)


def _epoch(value: Any, key: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConfigError("expected an ISO 8601 UTC time or Unix seconds", key=key)
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ConfigError("must be finite", key=key)
        return float(value)
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return moment.timestamp()
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"not an ISO 8601 time: {value!r}", key=key) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        return moment.timestamp()
    raise ConfigError("expected an ISO 8601 UTC time or Unix seconds", key=key)


class _Table:
    """Typed access to one TOML table that names the dotted key in every error."""

    def __init__(self, data: Any, prefix: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError("must be a table", key=prefix or None)
        self.data = data
        self.prefix = prefix

    def _key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else str(name)

    def keys(self) -> list[str]:
        return list(self.data.keys())

    def allow(self, *names: str) -> None:
        for name in self.data:
            if name not in names:
                raise ConfigError(f"unknown key (known: {', '.join(names)})", key=self._key(name))

    def raw(self, name: str) -> Any:
        return self.data.get(name)

    def table(self, name: str, *, required: bool = False) -> "_Table":
        value = self.data.get(name)
        if value is None:
            if required:
                raise ConfigError("missing table", key=self._key(name))
            value = {}
        return _Table(value, self._key(name))

    def table_list(self, name: str) -> list["_Table"]:
        value = self.data.get(name)
        if value is None:
            return []
        if isinstance(value, Mapping):
            value = [value]
        if not isinstance(value, list):
            raise ConfigError("must be an array of tables", key=self._key(name))
        return [_Table(item, f"{self._key(name)}[{i}]") for i, item in enumerate(value)]

    def str(self, name: str, *, required: bool = False) -> str | None:
        value = self.data.get(name)
        if value is None:
            if required:
                raise ConfigError("missing (required)", key=self._key(name))
            return None
        if not isinstance(value, str) or not value:
            raise ConfigError(f"expected a non-empty string, got {value!r}", key=self._key(name))
        return value

    def str_list(self, name: str) -> list[str]:
        value = self.data.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError("expected a list of strings", key=self._key(name))
        return list(value)

    def bool(self, name: str, *, default: bool) -> bool:
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            raise ConfigError(f"expected true or false, got {value!r}", key=self._key(name))
        return value

    def int(
        self,
        name: str,
        *,
        default: int | None = None,
        required: bool = False,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        value = self.data.get(name)
        if value is None:
            if required:
                raise ConfigError("missing (required)", key=self._key(name))
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"expected an integer, got {value!r}", key=self._key(name))
        if minimum is not None and value < minimum:
            raise ConfigError(f"must be >= {minimum}, got {value}", key=self._key(name))
        if maximum is not None and value > maximum:
            raise ConfigError(f"must be <= {maximum}, got {value}", key=self._key(name))
        return value

    def number(
        self,
        name: str,
        *,
        default: float | None = None,
        required: bool = False,
        positive: bool = False,
        minimum: float | None = None,
    ) -> float:
        value = self.data.get(name)
        if value is None:
            if required:
                raise ConfigError("missing (required)", key=self._key(name))
            return default  # type: ignore[return-value]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"expected a finite number, got {value!r}", key=self._key(name))
        if positive and value <= 0:
            raise ConfigError(f"must be positive, got {value}", key=self._key(name))
        if minimum is not None and value < minimum:
            raise ConfigError(f"must be >= {minimum}, got {value}", key=self._key(name))
        return float(value)

    def path(self, name: str, base: pathlib.Path, *, must_exist: bool = False) -> pathlib.Path | None:
        value = self.str(name)
        if value is None:
            return None
        p = pathlib.Path(value).expanduser()
        if not p.is_absolute():
            p = base / p
        if must_exist and not p.exists():
            raise ConfigError(f"file not found: {p}", key=self._key(name))
        return p
