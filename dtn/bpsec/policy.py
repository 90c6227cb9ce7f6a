"""The node's BPSec policy: which bundles this node protects, verifies and accepts, with which keys.

Built from the `[security]` table of the node's TOML (format in docs/bpsec.md) and applied by the node:

    policy = SecurityPolicy.from_table(config["security"], base_dir=config_dir, node_id="ipn:2.0")
    bundle = policy.outbound(bundle)                                   # before forwarding: add BIB / BCB
    bundle = policy.inbound(bundle, is_local_destination=True)         # on receipt: verify / decrypt

`inbound` raises `SecurityError(reason, reason_code=...)` with the RFC 9172 §11.2 reason code when the bundle is
to be discarded: 12 a required operation is missing, 13 unknown security context, 15 failed verification or
decryption, 16 conflicting security blocks (8 for an unreadable one). Key bytes never appear in errors or in
`describe()`: only key ids do.
"""

from __future__ import annotations

import fnmatch
import pathlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from dtn.bpsec.asb import AbstractSecurityBlock
from dtn.bpsec.cache import SecurityCache
from dtn.bpsec.constants import (
    BCB_BLOCK_TYPE,
    BIB_BLOCK_TYPE,
    PAYLOAD_BLOCK_NUMBER,
    PRIMARY_BLOCK_NUMBER,
    AesVariant,
    ReasonCode,
    ShaVariant,
)
from dtn.bpsec.keys import load_key_file
from dtn.bpsec.confidentiality import decrypt, encrypt
from dtn.bpsec.processing import (
    check_received,
    encrypted_targets,
    read_bcbs,
    read_bibs,
    sign,
    verify,
)
from dtn.bpv7.bundle import Bundle
from dtn.bpv7.eid import EID, parse_eid
from dtn.errors import ConfigError, DecodeError, SecurityError

SERVICES = ("integrity", "confidentiality")
ROLES = ("source", "verifier", "acceptor")
ON_FAILURE = ("discard", "drop_block")
_SHA_BITS = {256: ShaVariant.HMAC_256_256, 384: ShaVariant.HMAC_384_384, 512: ShaVariant.HMAC_512_512}
_AES_BITS = {128: AesVariant.A128GCM, 256: AesVariant.A256GCM}
_TARGET_NAMES = {"primary": PRIMARY_BLOCK_NUMBER, "payload": PAYLOAD_BLOCK_NUMBER}
_RULE_KEYS = {
    "name",
    "service",
    "roles",
    "bundle_source",
    "bundle_destination",
    "security_source",
    "key",
    "targets",
    "sha_variant",
    "aes_variant",
    "scope_flags",
    "wrap_key",
    "required",
}
_TABLE_KEYS = {"keys", "rules", "on_failure", "report_failures"}


@dataclass(frozen=True, slots=True)
class SecurityRule:
    """One `[[security.rules]]` entry.

    `targets` holds "primary", "payload" or block type codes (ints) naming every block of that type.
    """

    name: str
    service: str
    roles: frozenset[str]
    bundle_source: str = "*"
    bundle_destination: str = "*"
    security_source: str = "*"
    key_id: str = ""
    targets: tuple[str | int, ...] = ("payload",)
    sha_variant: ShaVariant = ShaVariant.HMAC_384_384
    aes_variant: AesVariant = AesVariant.A256GCM
    scope_flags: int = 7
    wrap_key: bool = False
    required: bool = False

    def matches(self, bundle: Bundle) -> bool:
        return fnmatch.fnmatchcase(str(bundle.primary.source), self.bundle_source) and fnmatch.fnmatchcase(
            str(bundle.primary.destination), self.bundle_destination
        )

    def accepts_source(self, source: EID) -> bool:
        return fnmatch.fnmatchcase(str(source), self.security_source)

    def target_numbers(self, bundle: Bundle) -> list[int]:
        """Block numbers named by `targets` that exist in the bundle."""
        numbers: list[int] = []
        for target in self.targets:
            if target in _TARGET_NAMES:
                number = _TARGET_NAMES[target]
                if number == PRIMARY_BLOCK_NUMBER or bundle.block_by_number(number) is not None:
                    numbers.append(number)
            else:
                numbers += [b.number for b in bundle.blocks if int(b.type) == target]
        return list(dict.fromkeys(numbers))


@dataclass(frozen=True, slots=True)
class SecurityPolicy:
    """The BPSec policy of one node (see the module docstring)."""

    node_id: EID
    rules: tuple[SecurityRule, ...] = ()
    keys: Mapping[str, bytes] | None = None
    on_failure: str = "discard"
    report_failures: bool = True
    cache: SecurityCache = field(default_factory=SecurityCache, compare=False, repr=False)
    """The policy's own ciphers and memo tables (`dtn.bpsec.cache`): it lives as long as the policy."""

    def __repr__(self) -> str:  # never print key material
        return (
            f"SecurityPolicy(node_id={self.node_id}, rules={[r.name for r in self.rules]}, "
            f"keys={sorted(self.keys or {})}, on_failure={self.on_failure!r})"
        )

    # -- construction -------------------------------------------------------------------------------------------

    @classmethod
    def from_table(cls, table: Mapping | None, *, base_dir: pathlib.Path, node_id: str | EID) -> SecurityPolicy:
        """Build the policy from the `[security]` table (None or {} gives a policy with no rules).

        Key files are read now, relative to `base_dir`; any problem raises `ConfigError(reason, key=...)` naming
        the TOML key, e.g. "security.rules[1].key".
        """
        try:
            node = node_id if isinstance(node_id, EID) else parse_eid(node_id)
        except DecodeError as exc:
            raise ConfigError(f"node ID is not an endpoint ID: {exc.reason}", key="node_id") from None
        table = dict(table or {})
        _no_unknown(table, _TABLE_KEYS, "security")
        on_failure = table.get("on_failure", "discard")
        if on_failure not in ON_FAILURE:
            raise ConfigError(f"must be one of {', '.join(ON_FAILURE)}", key="security.on_failure")
        report_failures = table.get("report_failures", True)
        if not isinstance(report_failures, bool):
            raise ConfigError("must be true or false", key="security.report_failures")

        key_table = table.get("keys", {})
        if not isinstance(key_table, Mapping):
            raise ConfigError('must be a table of key id = "key file"', key="security.keys")
        keys: dict[str, bytes] = {}
        for key_id, path in key_table.items():
            where = f"security.keys.{key_id}"
            if not isinstance(path, str) or not path:
                raise ConfigError("must be the path of a key file", key=where)
            full = pathlib.Path(path) if pathlib.Path(path).is_absolute() else pathlib.Path(base_dir) / path
            try:
                keys[key_id] = load_key_file(full)
            except ConfigError as exc:
                raise ConfigError(f"{exc.reason} ({full})", key=where) from None

        raw_rules = table.get("rules", [])
        if not isinstance(raw_rules, list):
            raise ConfigError("must be an array of tables ([[security.rules]])", key="security.rules")
        rules = tuple(_rule(raw, index, keys) for index, raw in enumerate(raw_rules))
        return cls(node, rules, keys, on_failure, report_failures)

    # -- outbound: this node as security source ------------------------------------------------------------------

    def outbound(self, bundle: Bundle) -> Bundle:
        """Add the BIBs and BCBs this node is the security source for (integrity first, then confidentiality).

        Targets already protected by the same service are skipped (operations are unique, RFC 9172 §3.2), and so
        are fragments (RFC 9172 §5.2: apply security before fragmenting).
        """
        if bundle.primary.is_fragment:
            return bundle
        for service in SERVICES:
            for rule in self.rules:
                if rule.service != service or "source" not in rule.roles or not rule.matches(bundle):
                    continue
                bundle = self._apply(rule, bundle)
        return bundle

    def _apply(self, rule: SecurityRule, bundle: Bundle) -> Bundle:
        encrypted = encrypted_targets(read_bcbs(bundle))
        key = self.keys[rule.key_id]
        if rule.service == "integrity":
            protected = {t for _, asb in read_bibs(bundle, encrypted) for t in asb.targets}
            targets = [
                t
                for t in rule.target_numbers(bundle)
                if t not in protected and t not in encrypted and not _is_security_block(bundle, t)
            ]
            # One BIB per target: a later BCB over some of them then encrypts whole BIBs, never needing to split
            # one whose scope binds its own header (RFC 9172 §3.9).
            for target in targets:
                bundle = sign(
                    bundle,
                    key=key,
                    security_source=self.node_id,
                    targets=[target],
                    sha_variant=rule.sha_variant,
                    scope_flags=rule.scope_flags,
                    wrap=rule.wrap_key,
                    cache=self.cache,
                )
            return bundle
        targets = [
            t
            for t in rule.target_numbers(bundle)
            if t != PRIMARY_BLOCK_NUMBER and t not in encrypted and not _is_security_block(bundle, t)
        ]
        if not targets:
            return bundle
        return encrypt(
            bundle,
            key=key,
            security_source=self.node_id,
            targets=targets,
            aes_variant=rule.aes_variant,
            scope_flags=rule.scope_flags,
            wrap=rule.wrap_key,
            cache=self.cache,
        )

    # -- inbound: this node as verifier / acceptor -----------------------------------------------------------------

    def inbound(self, bundle: Bundle, *, is_local_destination: bool) -> Bundle:
        """Process a received bundle's security blocks as this node's rules say.

        At the destination, BCBs are decrypted (every one: a BCB no rule has a key for raises reason 15, since
        RFC 9172 §5.1.1 forbids delivering ciphertext) and BIBs are verified and, for acceptor rules, removed. In
        transit, BIBs are verified for verifier and acceptor rules and left in place, and BCBs pass unchanged. A
        node without rules passes every bundle unchanged in transit.
        """
        check_received(bundle)
        drop = self.on_failure == "drop_block"
        applicable = [r for r in self.rules if r.matches(bundle) and r.roles & {"verifier", "acceptor"}]

        # Confidentiality: presence first (what arrived), then decryption at the destination.
        for rule in applicable:
            if rule.service == "confidentiality" and rule.required:
                self._require(rule, bundle, "confidentiality")
        if is_local_destination and read_bcbs(bundle):
            acceptors = [r for r in applicable if "acceptor" in r.roles]
            lookup = self._lookup(acceptors, "confidentiality", require_key=True)
            bundle = decrypt(bundle, lookup, drop_failed_blocks=drop, cache=self.cache)

        # Integrity: a BIB hidden inside a BCB became visible above; then verify (and accept at the destination).
        for rule in applicable:
            if rule.service == "integrity" and rule.required:
                self._require(rule, bundle, "integrity")
        integrity = [r for r in applicable if r.service == "integrity"]
        if is_local_destination:
            acceptors = [r for r in integrity if "acceptor" in r.roles]
            bundle = verify(
                bundle, self._lookup(acceptors, "integrity"), accept=True, drop_failed_blocks=drop, cache=self.cache
            )
        return verify(bundle, self._lookup(integrity, "integrity"), drop_failed_blocks=drop, cache=self.cache)

    def _lookup(self, rules: list[SecurityRule], service: str, *, require_key: bool = False) -> Callable:
        def lookup(asb: AbstractSecurityBlock) -> bytes | None:
            for rule in rules:
                if rule.service == service and rule.accepts_source(asb.source):
                    return self.keys[rule.key_id]
            if require_key:
                raise SecurityError(
                    f"no key to decrypt the BCB from {asb.source} at the bundle destination",
                    reason_code=ReasonCode.FAILED_SECURITY_OPERATION,
                )
            return None

        return lookup

    def _require(self, rule: SecurityRule, bundle: Bundle, service: str) -> None:
        """RFC 9172 §5.1.1/§5.1.2: a bundle lacking an operation the policy requires is not forwarded/delivered."""
        bcbs = read_bcbs(bundle)
        encrypted = encrypted_targets(bcbs)
        blocks = bcbs if service == "confidentiality" else read_bibs(bundle, encrypted)
        covered = {t for _, asb in blocks if rule.accepts_source(asb.source) for t in asb.targets}
        if service == "integrity":
            covered |= encrypted  # an encrypted target's BIB may be encrypted too (RFC 9172 §3.9)
        missing = [t for t in rule.target_numbers(bundle) if t not in covered]
        if service == "confidentiality":
            missing = [t for t in missing if t != PRIMARY_BLOCK_NUMBER]
        if missing:
            raise SecurityError(
                f"rule {rule.name!r}: required {service} from {rule.security_source} is missing on blocks {missing}",
                reason_code=ReasonCode.MISSING_SECURITY_OPERATION,
            )

    def describe(self) -> list[str]:
        """One line per rule, for logs and `--help`-style output (key ids only, never key bytes)."""
        lines = []
        for rule in self.rules:
            lines.append(
                f"{rule.name}: {rule.service} as {'/'.join(sorted(rule.roles))} for {rule.bundle_source} -> "
                f"{rule.bundle_destination} (security source {rule.security_source}), key {rule.key_id!r}, "
                f"targets {list(rule.targets)}{', required' if rule.required else ''}"
            )
        return lines


def _is_security_block(bundle: Bundle, number: int) -> bool:
    block = bundle.block_by_number(number)
    return block is not None and block.type in (BIB_BLOCK_TYPE, BCB_BLOCK_TYPE)


def _no_unknown(table: Mapping, allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"unknown key (allowed: {', '.join(sorted(allowed))})", key=f"{where}.{unknown[0]}")


def _rule(raw: object, index: int, keys: Mapping[str, bytes]) -> SecurityRule:
    where = f"security.rules[{index}]"
    if not isinstance(raw, Mapping):
        raise ConfigError("must be a table", key=where)
    _no_unknown(raw, _RULE_KEYS, where)

    def get(name: str, kind: type | tuple[type, ...], default: object) -> object:
        value = raw.get(name, default)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(f"has the wrong type ({type(value).__name__})", key=f"{where}.{name}")
        return value

    service = get("service", str, "")
    if service not in SERVICES:
        raise ConfigError(f"must be one of {', '.join(SERVICES)}", key=f"{where}.service")
    roles = get("roles", list, ["source"])
    if not roles or any(r not in ROLES for r in roles):
        raise ConfigError(f"must be a non-empty list of {', '.join(ROLES)}", key=f"{where}.roles")
    key_id = get("key", str, "")
    if key_id not in keys:
        known = ", ".join(sorted(keys)) or "none defined in [security.keys]"
        raise ConfigError(f"unknown key id {key_id!r} (known: {known})", key=f"{where}.key")
    patterns = {}
    for name in ("bundle_source", "bundle_destination", "security_source"):
        patterns[name] = get(name, str, "*")
    targets_raw = get("targets", list, ["payload"])
    targets: list[str | int] = []
    for target in targets_raw:
        if target in _TARGET_NAMES or (type(target) is int and 2 <= target <= 255 and target not in (11, 12)):
            targets.append(target)
        else:
            raise ConfigError(
                f'target {target!r}: use "primary", "payload" or an extension block type code (not 11/12)',
                key=f"{where}.targets",
            )
    if not targets:
        raise ConfigError("needs at least one target", key=f"{where}.targets")
    if service == "confidentiality" and "primary" in targets:
        raise ConfigError("the primary block cannot be encrypted (RFC 9172 §3.8)", key=f"{where}.targets")
    if service == "confidentiality" and "verifier" in roles and not get("required", bool, False):
        raise ConfigError("a confidentiality verifier only checks presence: set required = true", key=f"{where}.roles")
    sha_bits = get("sha_variant", int, 384)
    if sha_bits not in _SHA_BITS:
        raise ConfigError("must be 256, 384 or 512", key=f"{where}.sha_variant")
    aes_bits = get("aes_variant", int, 256)
    if aes_bits not in _AES_BITS:
        raise ConfigError("must be 128 or 256", key=f"{where}.aes_variant")
    scope = get("scope_flags", int, 7)
    if not 0 <= scope <= 7:
        raise ConfigError(
            "must be 0..7 (1 primary block, 2 target header, 4 security header)", key=f"{where}.scope_flags"
        )
    wrap = get("wrap_key", bool, False)
    key = keys[key_id]
    if service == "confidentiality" and not wrap and len(key) != (16 if aes_bits == 128 else 32):
        raise ConfigError(
            f"key {key_id!r} has {len(key)} bytes; A{aes_bits}GCM needs {aes_bits // 8}", key=f"{where}.key"
        )
    if wrap and len(key) not in (16, 24, 32):
        raise ConfigError(f"key {key_id!r} must be 16, 24 or 32 bytes to wrap keys", key=f"{where}.key")
    return SecurityRule(
        name=str(get("name", str, f"rule{index}")),
        service=service,
        roles=frozenset(roles),
        key_id=key_id,
        targets=tuple(targets),
        sha_variant=_SHA_BITS[sha_bits],
        aes_variant=_AES_BITS[aes_bits],
        scope_flags=scope,
        wrap_key=wrap,
        required=get("required", bool, False),
        **patterns,
    )
