"""The [archive] table of the node config (dtn/archive/config.py through dtn.node.config)."""

from __future__ import annotations

import pathlib

import pytest

from dtn.archive.config import ArchiveConfig
from dtn.errors import ConfigError
from dtn.node.config import parse_config


def _cfg(archive):
    return parse_config({"node": {"id": "ipn:5.0"}, "archive": archive}, base_dir="/srv/dtn")


def test_defaults_and_values():
    assert _cfg({}).archive == ArchiveConfig()
    cfg = _cfg(
        {
            "replicas": 2,
            "path": "a.db",
            "max_bytes": 10_000,
            "nodes": [1, 2],
            "centres": [1],
            "service": 70,
            "retry_s": 30,
        }
    ).archive
    assert (cfg.replicas, cfg.path, cfg.max_bytes, cfg.nodes, cfg.centres, cfg.service, cfg.retry_s) == (
        2,
        pathlib.Path("/srv/dtn/a.db"),
        10_000,
        (1, 2),
        (1,),
        70,
        30.0,
    )
    assert _cfg({"enabled": False}).archive is None
    assert parse_config({"node": {"id": "ipn:5.0"}}).archive is None


@pytest.mark.parametrize(
    "table, key",
    [
        ({"replicas": 0}, "archive.replicas"),
        ({"replicas": "3"}, "archive.replicas"),
        ({"chunk_bytes": 10}, "archive.chunk_bytes"),
        ({"nodes": [0]}, "archive.nodes"),
        ({"retry_s": -1}, "archive.retry_s"),
        ({"colour": "red"}, "archive.colour"),
        ([], "archive"),
    ],
)
def test_bad_values_name_the_key(table, key):
    with pytest.raises(ConfigError) as info:
        _cfg(table)
    assert info.value.key == key
