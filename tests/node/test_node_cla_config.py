"""The CLA registry in the node config: `cla = ...` names, `[cla.<name>]` options, `[tls]
accept_no_client_cert`."""

import pytest

from dtn.cla.registry import ClaKind, check_options, cla_names, get_cla
from dtn.errors import ConfigError
from dtn.node.config import parse_config

BASE = {"node": {"id": "ipn:1.0"}}


def test_every_cla_is_registered():
    assert {"tcpcl", "mtcp", "tcpclv3", "stcp", "udp"} <= set(cla_names())
    assert get_cla("udp").dial is not None and not get_cla("udp").uses_stream
    assert get_cla("tcpclv3").uses_stream
    with pytest.raises(ConfigError, match="unknown CLA 'ltp2'"):
        get_cla("ltp2", key="listen[0].cla")
    with pytest.raises(ValueError):
        ClaKind("bad", serve=None)  # neither run_over_stream nor dial


@pytest.mark.parametrize("cla", ["tcpclv3", "stcp", "udp"])
def test_listen_and_neighbour_accept_the_new_clas(cla):
    cfg = parse_config(
        {**BASE, "listen": [{"cla": cla, "port": 0}], "neighbours": {"2": {"address": "127.0.0.1:4556", "cla": cla}}}
    )
    assert cfg.listen[0].cla == cla and cfg.neighbours[2].cla == cla


def test_cla_options():
    cfg = parse_config(
        {**BASE, "cla": {"udp": {"max_bundle_bytes": 1200, "rate_bytes_per_s": 1e6}, "tcpclv3": {"acks": False}}}
    )
    assert cfg.options_for_cla("udp")["max_bundle_bytes"] == 1200
    assert cfg.options_for_cla("udp")["rate_bytes_per_s"] == 1e6
    assert cfg.options_for_cla("tcpclv3")["acks"] is False and cfg.options_for_cla("tcpclv3")["refusal"] is True
    assert cfg.options_for_cla("stcp")["keepalive_s"] == 0.0  # defaults when not configured
    with pytest.raises(ConfigError, match=r"cla.udp.mtu: unknown option for CLA 'udp'"):
        parse_config({**BASE, "cla": {"udp": {"mtu": 1500}}})
    with pytest.raises(ConfigError, match=r"cla.udp.max_bundle_bytes: expected int"):
        parse_config({**BASE, "cla": {"udp": {"max_bundle_bytes": "big"}}})
    with pytest.raises(ConfigError, match=r"cla.carrier-pigeon: unknown CLA"):
        parse_config({**BASE, "cla": {"carrier-pigeon": {}}})
    assert check_options("udp", {"rate_bytes_per_s": 5}, key="cla.udp")["rate_bytes_per_s"] == 5.0


def test_accept_no_client_cert_needs_a_server_certificate(tmp_path):
    for name in ("c.pem", "k.pem", "ca.pem"):
        (tmp_path / name).write_text("x")
    cfg = parse_config(
        {**BASE, "tls": {"cert": "c.pem", "key": "k.pem", "ca": "ca.pem", "accept_no_client_cert": True}},
        base_dir=tmp_path,
    )
    assert cfg.tls.accept_no_client_cert
    assert not parse_config(
        {**BASE, "tls": {"cert": "c.pem", "key": "k.pem", "ca": "ca.pem"}}, base_dir=tmp_path
    ).tls.accept_no_client_cert
    with pytest.raises(ConfigError, match="tls.accept_no_client_cert: needs cert and key"):
        parse_config({**BASE, "tls": {"ca": "ca.pem", "accept_no_client_cert": True}}, base_dir=tmp_path)
