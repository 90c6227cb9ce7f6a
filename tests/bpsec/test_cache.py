"""dtn/bpsec/cache.py: what BPSec keeps between calls lives on an object the caller owns."""

from __future__ import annotations

import pathlib

from dtn.bpsec import SecurityCache
from dtn.bpsec.confidentiality import encrypt
from dtn.bpsec.policy import SecurityPolicy
from dtn.bpv7.bundle import Bundle

KEY32 = bytes(range(32))


def test_two_caches_share_nothing():
    bundle = Bundle.create("ipn:2.1", "ipn:1.1", b"x" * 64, creation_time_ms=1)
    one, two = SecurityCache(), SecurityCache()
    encrypt(bundle, key=KEY32, security_source="ipn:1.0", cache=one)
    assert one.ciphers.keys() == {KEY32} and two.ciphers.keys() == set()


def test_without_a_cache_no_key_is_kept_anywhere():
    import dtn.bpsec.contexts as contexts
    import dtn.bpsec.processing as processing

    bundle = Bundle.create("ipn:2.1", "ipn:1.1", b"x" * 64, creation_time_ms=1)
    encrypt(bundle, key=KEY32, security_source="ipn:1.0")
    for module in (contexts, processing):
        for name, value in vars(module).items():
            if isinstance(value, dict):
                assert KEY32 not in value, f"{module.__name__}.{name} holds a key"


def test_each_policy_owns_its_cache(tmp_path: pathlib.Path):
    a = SecurityPolicy.from_table({}, base_dir=tmp_path, node_id="ipn:1.0")
    b = SecurityPolicy.from_table({}, base_dir=tmp_path, node_id="ipn:2.0")
    assert isinstance(a.cache, SecurityCache) and a.cache is not b.cache
