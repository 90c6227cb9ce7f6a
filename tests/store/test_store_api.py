"""The BundleStore contract, run against both implementations (SqliteStore on a real file, MemoryStore)."""

from __future__ import annotations

import io
import threading

import pytest

from dtn.errors import StoreError
from dtn.store import (
    REASON_DEPLETED_STORAGE,
    BundleStore,
    MemoryStore,
    Retention,
    SqliteStore,
    StoredBundle,
    bundle_key,
    open_store,
)
from tests.store.helpers import entry, payload

THRESHOLD = 1024  # small, so that tests exercise both inline and file payloads


@pytest.fixture(params=["sqlite", "memory"])
def make_store(request, tmp_path):
    opened: list[BundleStore] = []

    def make(**kwargs) -> BundleStore:
        kwargs.setdefault("inline_threshold_bytes", THRESHOLD)
        if request.param == "sqlite":
            store = open_store(tmp_path / "node.db", synchronous="NORMAL", **kwargs)
        else:
            store = open_store(None, **kwargs)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store) -> BundleStore:
    return make_store()


def test_open_store_kinds(tmp_path):
    assert isinstance(open_store(None), MemoryStore)
    with open_store(tmp_path / "s.db") as s:
        assert isinstance(s, SqliteStore)
    with pytest.raises(StoreError):
        open_store(None, synchronous="FULL")


def test_put_get_read_inline_and_file(store):
    small, big = entry(1), entry(2)
    assert store.put(small, b"tiny")
    assert store.put(big, payload(big.key, 5 * THRESHOLD))
    assert store.read(small.key) == b"tiny"
    assert store.read(big.key) == payload(big.key, 5 * THRESHOLD)
    got = store.get(big.key)
    assert got is not None and got.size_bytes == 5 * THRESHOLD and got.destination == "ipn:2.1"
    assert store.contains(small.key) and small.key in store and "nope" not in store
    assert store.get("nope") is None
    assert store.count() == 2 and store.total_bytes() == 4 + 5 * THRESHOLD
    with store.open_read(big.key) as stream:
        assert stream.read(10) == payload(big.key, 5 * THRESHOLD)[:10]
        assert len(stream.read()) == 5 * THRESHOLD - 10


def test_read_missing_is_store_error(store):
    with pytest.raises(StoreError):
        store.read("ipn:9.0 1 1")
    with pytest.raises(StoreError):
        store.open_read("ipn:9.0 1 1")


def test_duplicates_are_not_stored_twice(store):
    e = entry(1)
    assert store.put(e, b"a") is True
    assert store.put(e, b"bbbb") is False
    assert store.read(e.key) == b"a" and store.count() == 1
    assert store.put_many([(entry(2), b"x"), (entry(2), b"y"), (e, b"z")]) == [True, False, False]
    assert store.read(entry(2).key) == b"x" and store.count() == 2
    assert store.put_file(e, [b"again"]) is False


def test_fragments_have_their_own_identity(store):
    whole = entry(1)
    frag = StoredBundle(
        source=whole.source,
        creation_time_ms=whole.creation_time_ms,
        sequence=whole.sequence,
        fragment_offset=0,
        payload_length=100,
        destination="ipn:2.1",
        expiry_s=2e9,
    )
    assert store.put(whole, b"w") and store.put(frag, b"f")
    assert frag.key == bundle_key(whole.source, whole.creation_time_ms, whole.sequence, 0, 100)
    assert store.stats()["fragments"] == 1


def test_quota_bundles_reason_code_4(make_store):
    store = make_store(max_bundles=2)
    assert store.put_many([(entry(1), b"a"), (entry(2), b"b")]) == [True, True]
    with pytest.raises(StoreError) as info:
        store.put(entry(3), b"c")
    assert info.value.reason_code == REASON_DEPLETED_STORAGE == 4
    assert store.put(entry(1), b"dup") is False  # a duplicate needs no room
    assert store.count() == 2


def test_quota_bytes_batch_is_all_or_nothing(make_store):
    store = make_store(max_bytes=3 * THRESHOLD)
    big = payload("x", 2 * THRESHOLD)
    assert store.put(entry(1), big)
    with pytest.raises(StoreError) as info:
        store.put_many([(entry(2), b"a" * 10), (entry(3), big)])
    assert info.value.reason_code == 4
    assert store.count() == 1 and not store.contains(entry(2).key)
    with pytest.raises(StoreError) as info:
        store.put_file(entry(4), io.BytesIO(big))
    assert info.value.reason_code == 4
    assert store.count() == 1 and store.total_bytes() == 2 * THRESHOLD
    store.delete(entry(1).key)
    assert store.put_many([(entry(2), b"a" * 10), (entry(3), big)]) == [True, True]


def test_put_file_sources(store, tmp_path):
    data = payload("file", 3 * THRESHOLD + 7)
    path = tmp_path / "payload.bin"
    path.write_bytes(data)
    assert store.put_file(entry(1), path)
    assert store.put_file(entry(2), io.BytesIO(data))
    assert store.put_file(entry(3), (data[i : i + 100] for i in range(0, len(data), 100)))
    assert store.put_file(entry(4), [b"short"])
    for n in (1, 2, 3):
        assert store.read(entry(n).key) == data
        assert store.get(entry(n).key).size_bytes == len(data)
    assert store.read(entry(4).key) == b"short"
    with pytest.raises(StoreError):
        store.put_file(entry(5), tmp_path / "missing.bin")
    with pytest.raises(StoreError):
        store.put_file(entry(6), [b"ok", "not bytes"])
    assert not store.contains(entry(5).key) and not store.contains(entry(6).key)


def test_assign_and_queries_oldest_first(store):
    store.put_many([(entry(n, received_s=10.0 - n), b"x") for n in range(5)])
    assert [e.key for e in store.unassigned()] == [entry(n).key for n in (4, 3, 2, 1, 0)]
    assert store.assign(entry(1).key, 7, route=(7, 9, (1, 2)))
    assert store.assign(entry(3).key, 7)
    assert store.assign("missing", 7) is False
    hop = store.for_next_hop(7)
    assert [e.key for e in hop] == [entry(3).key, entry(1).key]
    assert hop[1].route == (7, 9, (1, 2))
    assert store.assign(entry(1).key, None)
    assert [e.key for e in store.for_next_hop(7)] == [entry(3).key]
    assert len(store.unassigned()) == 4


def test_for_destination_exact_and_prefix(store):
    store.put(entry(1, destination="ipn:5.1"), b"a")
    store.put(entry(2, destination="ipn:5.2"), b"b")
    store.put(entry(3, destination="ipn:50.1"), b"c")
    store.put(entry(4, destination="dtn://node/app"), b"d")
    assert [e.destination for e in store.for_destination("ipn:5.1")] == ["ipn:5.1"]
    assert [e.destination for e in store.for_destination("ipn:5.*")] == ["ipn:5.1", "ipn:5.2"]
    assert [e.destination for e in store.for_destination("ipn:5.")] == ["ipn:5.1", "ipn:5.2"]
    assert [e.destination for e in store.for_destination("dtn://node/")] == ["dtn://node/app"]
    assert len(store.for_destination("*")) == 4
    assert store.for_destination("ipn:5") == []


def test_expiry(store):
    store.put_many([(entry(n, expiry_s=100.0 + n), b"x" * n) for n in range(1, 5)])
    assert [e.expiry_s for e in store.expired(102.0)] == [101.0, 102.0]
    assert store.count() == 4
    gone = store.expire(102.5)
    assert [e.key for e in gone] == [entry(1).key, entry(2).key]
    assert store.count() == 2 and store.total_bytes() == 7
    assert store.expire(0) == []


def test_retention_and_metadata(store):
    e = entry(1, metadata={"prev": "ipn:3.0", "hops": [1, 2]})
    store.put(e, b"x")
    assert store.get(e.key).retention == Retention.DISPATCH_PENDING
    assert store.set_retention(e.key, Retention.FORWARD_PENDING | Retention.REASSEMBLY_PENDING)
    assert store.get(e.key).retention == Retention.FORWARD_PENDING | Retention.REASSEMBLY_PENDING
    assert store.update_metadata(e.key, {"attempts": 2})
    assert store.get(e.key).metadata == {"prev": "ipn:3.0", "hops": [1, 2], "attempts": 2}
    assert store.update_metadata(e.key, {"only": True}, replace=True)
    assert store.get(e.key).metadata == {"only": True}
    assert store.set_retention("missing", Retention.NONE) is False
    assert store.update_metadata("missing", {}) is False
    with pytest.raises(StoreError):
        store.set_retention(e.key, 64)
    with pytest.raises(StoreError):
        store.update_metadata(e.key, {"bad": object()})


def test_delete(store):
    store.put_many([(entry(n), payload(str(n), n * THRESHOLD)) for n in range(1, 4)])
    assert store.delete(entry(2).key) is True
    assert store.delete(entry(2).key) is False
    assert store.delete_many([entry(1).key, entry(3).key, "nope", entry(1).key]) == 2
    assert store.count() == 0 and store.total_bytes() == 0


def test_entries_in_arrival_order_and_stats(store):
    for n in range(600):  # more than one page of the SQLite iterator
        store.put_many([(entry(n, destination=f"ipn:{n % 3}.1", received_s=1000.0 - n), b"ab")])
    assert [e.key for e in store.entries()] == [entry(n).key for n in range(600)]
    stats = store.stats()
    assert stats["count"] == 600 and stats["total_bytes"] == 1200
    assert stats["by_destination"]["ipn:1.1"] == {"count": 200, "bytes": 400}
    assert stats["oldest_received_s"] == 401.0 and stats["unassigned"] == 600


@pytest.mark.parametrize(
    "bad",
    [
        dict(destination=""),
        dict(expiry_s=float("nan")),
        dict(retention=99),
        dict(next_hop=-1),
        dict(route="not a tuple"),
        dict(metadata={"x": {1, 2}}),
    ],
)
def test_bad_records_are_refused(store, bad):
    with pytest.raises(StoreError):
        store.put(entry(1, **bad), b"x")
    assert store.count() == 0


def test_bad_identity_is_refused():
    with pytest.raises(StoreError):
        StoredBundle(source="", creation_time_ms=0, sequence=0, destination="ipn:1.1", expiry_s=1)
    with pytest.raises(StoreError):
        StoredBundle(source="ipn:1.0", creation_time_ms=-1, sequence=0, destination="ipn:1.1", expiry_s=1)
    with pytest.raises(StoreError):
        StoredBundle(source="ipn:1.0", creation_time_ms=0, sequence=0, fragment_offset=3, destination="x", expiry_s=1)
    with pytest.raises(StoreError):
        StoredBundle(source="ipn:1.0", creation_time_ms=0, sequence=0, destination="x", expiry_s=1, key="k")


def test_data_must_be_bytes(store):
    with pytest.raises(StoreError):
        store.put(entry(1), "text")  # type: ignore[arg-type]


def test_closed_store_refuses(store):
    store.close()
    store.close()
    with pytest.raises(StoreError):
        store.put(entry(1), b"x")
    with pytest.raises(StoreError):
        store.count()


def test_usable_from_worker_threads(store):
    errors: list[BaseException] = []

    def worker(base: int) -> None:
        try:
            for n in range(base, base + 40):
                assert store.put(entry(n), payload(str(n), 50 if n % 2 else 2 * THRESHOLD))
                assert store.read(entry(n).key) == payload(str(n), 50 if n % 2 else 2 * THRESHOLD)
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i * 1000,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and store.count() == 160


def test_bad_query_arguments(store):
    for call in (
        lambda: store.for_next_hop(-1),
        lambda: store.expired("soon"),
        lambda: store.expire(None),
        lambda: store.for_destination(5),
    ):
        with pytest.raises(StoreError):
            call()
