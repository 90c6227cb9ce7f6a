"""SqliteStore against the reference model: the same random operations, always the same answers.

A rule may reopen the SQLite store, cleanly or as after a crash (a new connection without closing the old
one first): nothing may change.
"""

from __future__ import annotations

import shutil
import tempfile

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from dtn.errors import StoreError
from dtn.store import MemoryStore, Retention, SqliteStore, StoredBundle
from tests.conftest import examples
from tests.store.helpers import payload

THRESHOLD = 512
MAX_BUNDLES = 25
MAX_BYTES = 40_000
HOPS = st.sampled_from([1, 2, 3])
DESTINATIONS = ["ipn:2.1", "ipn:2.2", "ipn:20.1", "dtn://a/x", "dtn://a/y"]


@st.composite
def records(draw) -> StoredBundle:
    n = draw(st.integers(0, 40))  # a small identity space, so duplicates happen
    fragment = draw(st.booleans()) and n % 4 == 0
    return StoredBundle(
        source=draw(st.sampled_from(["ipn:1.0", "dtn://src/"])),
        creation_time_ms=n // 3,
        sequence=n % 3,
        fragment_offset=100 if fragment else None,
        payload_length=1000 if fragment else None,
        destination=draw(st.sampled_from(DESTINATIONS)),
        expiry_s=float(draw(st.integers(0, 100))),
        received_s=float(draw(st.integers(0, 20))),
        retention=Retention(draw(st.integers(0, 7))),
        next_hop=draw(st.none() | HOPS),
        route=draw(st.none() | st.tuples(HOPS, st.integers(0, 9))),
        metadata=draw(st.dictionaries(st.sampled_from("abc"), st.integers() | st.text(max_size=3), max_size=2)),
    )


SIZES = st.integers(0, 3 * THRESHOLD)


class StoreAgreement(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.mkdtemp(prefix="store-model-")
        self.path = f"{self.directory}/node.db"
        self.model = MemoryStore(max_bundles=MAX_BUNDLES, max_bytes=MAX_BYTES)
        self.real = self._open()
        self.keys: list[str] = []

    def _open(self) -> SqliteStore:
        return SqliteStore(
            self.path, max_bundles=MAX_BUNDLES, max_bytes=MAX_BYTES, inline_threshold_bytes=THRESHOLD, synchronous="OFF"
        )

    def teardown(self) -> None:
        self.real.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def both(self, method: str, *args, **kwargs):
        """Call the method on both stores; they must both return the same or both raise StoreError."""
        outcomes = []
        for store in (self.model, self.real):
            try:
                outcomes.append(("ok", getattr(store, method)(*args, **kwargs)))
            except StoreError as exc:
                outcomes.append(("error", exc.reason_code))
        assert outcomes[0] == outcomes[1], (method, outcomes)
        return outcomes[0]

    @rule(record=records(), size=SIZES)
    def put(self, record, size):
        self.keys.append(record.key)
        self.both("put", record, payload(record.key, size))

    @rule(items=st.lists(st.tuples(records(), SIZES), max_size=6))
    def put_many(self, items):
        self.keys += [r.key for r, _ in items]
        self.both("put_many", [(r, payload(r.key, size)) for r, size in items])

    @rule(record=records(), size=SIZES, chunk=st.integers(1, 700))
    def put_file(self, record, size, chunk):
        self.keys.append(record.key)
        data = payload(record.key, size)
        self.both("put_file", record, [data[i : i + chunk] for i in range(0, len(data), chunk)])

    @precondition(lambda self: self.keys)
    @rule(data=st.data())
    def delete(self, data):
        self.both("delete", data.draw(st.sampled_from(self.keys)))

    @precondition(lambda self: self.keys)
    @rule(data=st.data())
    def delete_many(self, data):
        self.both("delete_many", data.draw(st.lists(st.sampled_from(self.keys), max_size=4)))

    @precondition(lambda self: self.keys)
    @rule(data=st.data(), hop=st.none() | HOPS, route=st.none() | st.tuples(HOPS, HOPS))
    def assign(self, data, hop, route):
        self.both("assign", data.draw(st.sampled_from(self.keys)), hop, route)

    @precondition(lambda self: self.keys)
    @rule(data=st.data(), retention=st.integers(0, 7))
    def set_retention(self, data, retention):
        self.both("set_retention", data.draw(st.sampled_from(self.keys)), Retention(retention))

    @precondition(lambda self: self.keys)
    @rule(
        data=st.data(),
        metadata=st.dictionaries(st.sampled_from("abd"), st.integers(), max_size=2),
        replace=st.booleans(),
    )
    def update_metadata(self, data, metadata, replace):
        self.both("update_metadata", data.draw(st.sampled_from(self.keys)), metadata, replace=replace)

    @rule(now=st.integers(0, 100))
    def expire(self, now):
        self.both("expire", float(now))

    @rule(crash=st.booleans())
    def reopen(self, crash):
        if crash:
            # As after a crash: the new store opens while the old connection was never closed cleanly.
            old = self.real
            self.real = self._open()
            old._conn.close()  # release the file handle only; no checkpoint, no cleanup
            old._conn = None
        else:
            self.real.close()
            self.real = self._open()

    @invariant()
    def same_contents(self):
        assert list(self.model.entries()) == list(self.real.entries())
        assert self.model.count() == self.real.count()
        assert self.model.total_bytes() == self.real.total_bytes()

    @invariant()
    def same_queries(self):
        for hop in (1, 2, 3):
            assert self.model.for_next_hop(hop) == self.real.for_next_hop(hop)
        assert self.model.unassigned() == self.real.unassigned()
        for destination in ("ipn:2.1", "ipn:2.*", "dtn://a/", "*"):
            assert self.model.for_destination(destination) == self.real.for_destination(destination)
        assert self.model.expired(50.0) == self.real.expired(50.0)
        model_stats, real_stats = self.model.stats(), self.real.stats()
        assert {k: v for k, v in real_stats.items() if k in model_stats and k != "kind"} == {
            k: v for k, v in model_stats.items() if k != "kind"
        }

    @invariant()
    def same_payloads(self):
        for key in self.keys[-3:]:
            if self.model.contains(key):
                assert self.real.read(key) == self.model.read(key)
                with self.real.open_read(key) as stream:
                    assert stream.read() == self.model.read(key)
            else:
                assert not self.real.contains(key)


StoreAgreement.TestCase.settings = settings(max_examples=examples(60), stateful_step_count=40)
test_sqlite_store_agrees_with_model = StoreAgreement.TestCase
