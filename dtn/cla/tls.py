"""TLS for TCPCLv4, RFC 9174 §4.4: TLS 1.3 contexts and the Node IDs a certificate authenticates.

RFC 9174 §4.4.1 puts a Node ID in the certificate's subjectAltName as an otherName of type BundleEID
(OID 1.3.6.1.5.5.7.8.11, an IA5String URI). Some deployments use a uniformResourceIdentifier SAN instead;
`node_ids_from_certificate` returns both kinds.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from dtn.errors import ClaError

ID_ON_BUNDLE_EID = ObjectIdentifier("1.3.6.1.5.5.7.8.11")
"""id-on-bundleEID, the otherName type for a Node ID, RFC 9174 §4.4.2.1."""


def _der_ia5string(text: str) -> bytes:
    raw = text.encode("ascii")
    if len(raw) < 0x80:
        return bytes([0x16, len(raw)]) + raw
    length = len(raw).to_bytes((len(raw).bit_length() + 7) // 8, "big")
    return bytes([0x16, 0x80 | len(length)]) + length + raw


def _parse_der_ia5string(der: bytes) -> str | None:
    if len(der) < 2 or der[0] != 0x16:
        return None
    first = der[1]
    if first < 0x80:
        length, start = first, 2
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or len(der) < 2 + count:
            return None
        length, start = int.from_bytes(der[2 : 2 + count], "big"), 2 + count
    if len(der) != start + length:
        return None
    try:
        return der[start:].decode("ascii")
    except UnicodeDecodeError:
        return None


def node_ids_from_certificate(der: bytes) -> frozenset[str]:
    """The Node IDs a DER certificate names: otherName BundleEID entries and URI entries of its SAN."""
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise ClaError(f"peer certificate does not parse: {exc}") from exc
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return frozenset()
    ids = set(san.get_values_for_type(x509.UniformResourceIdentifier))
    for other in san.get_values_for_type(x509.OtherName):
        if other.type_id == ID_ON_BUNDLE_EID:
            text = _parse_der_ia5string(other.value)
            if text is not None:
                ids.add(text)
    return frozenset(ids)


def server_context(
    cert_chain_pem: bytes, key_pem: bytes, ca_pem: bytes | None, *, require_client_cert: bool = True
) -> ssl.SSLContext:
    """A TLS 1.3 server (passive entity) context; with `require_client_cert` the active entity must present a
    certificate signed by `ca_pem` (needed to authenticate its Node ID)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    _load_chain(ctx, cert_chain_pem, key_pem)
    if ca_pem is not None:
        ctx.load_verify_locations(cadata=ca_pem.decode("ascii"))
    ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL if ca_pem else ssl.CERT_NONE
    return ctx


def client_context(
    ca_pem: bytes, cert_chain_pem: bytes | None = None, key_pem: bytes | None = None, *, check_hostname: bool = True
) -> ssl.SSLContext:
    """A TLS 1.3 client (active entity) context trusting `ca_pem`, optionally with our own certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(cadata=ca_pem.decode("ascii"))
    ctx.check_hostname = check_hostname
    if cert_chain_pem is not None and key_pem is not None:
        _load_chain(ctx, cert_chain_pem, key_pem)
    return ctx


def _load_chain(ctx: ssl.SSLContext, cert_chain_pem: bytes, key_pem: bytes) -> None:
    import os
    import tempfile

    # ssl can only load a certificate chain from files.
    with tempfile.TemporaryDirectory() as tmp:
        cert_path, key_path = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        with open(cert_path, "wb") as f:
            f.write(cert_chain_pem)
        with open(key_path, "wb") as f:
            f.write(key_pem)
        ctx.load_cert_chain(cert_path, key_path)


def issue_node_certificate(
    ca_cert_pem: bytes,
    ca_key_pem: bytes,
    node_id: str,
    hostnames: tuple[str, ...] = ("localhost", "127.0.0.1"),
    *,
    uri_san: bool = True,
    valid_days: int = 30,
) -> tuple[bytes, bytes]:
    """Issue (cert chain PEM, key PEM) for a DTN node: SAN otherName BundleEID = `node_id` (RFC 9174 §4.4.2.1),
    also a URI SAN when `uri_san`, plus DNS/IP names. For test networks and the digital twin."""
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.OtherName(ID_ON_BUNDLE_EID, _der_ia5string(node_id))]
    if uri_san:
        names.append(x509.UniformResourceIdentifier(node_id))
    for host in hostnames:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, node_id)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert_pem, key_pem
