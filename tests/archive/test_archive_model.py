"""Pure parts of the archive: manifests and chunking, the catalogue merge, messages, placement, retrieval, db."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given, strategies as st

from dtn.archive.db import ArchiveDB
from dtn.archive.messages import (
    CatalogMsg,
    ChunkMsg,
    GetMsg,
    LostMsg,
    StoredMsg,
    StoreMsg,
    decode_message,
    encode_message,
)
from dtn.archive.model import CatalogEntry, assemble, check_name, make_manifest, merge_entries, object_id_of
from dtn.archive.placement import Candidate, candidates_from_plan, choose_replicas, repair_replica
from dtn.archive.retrieval import AddResult, Retrieval, rank_holders
from dtn.errors import ConfigError, DecodeError, StoreError
from tests.archive.conftest import PLANES, small_constellation


@given(st.binary(max_size=20_000), st.integers(1024, 8192))
def test_chunks_reassemble_and_verify(data, chunk_bytes):
    manifest, chunks = make_manifest("obj", data, chunk_bytes=chunk_bytes)
    assert manifest.object_id == object_id_of(data)
    assert all(manifest.verify_chunk(i, c) for i, c in enumerate(chunks))
    assert assemble(manifest, chunks) == data


def test_a_flipped_bit_is_caught():
    manifest, chunks = make_manifest("obj", bytes(5000), chunk_bytes=2048)
    bad = bytearray(chunks[1])
    bad[7] ^= 1
    assert not manifest.verify_chunk(1, bytes(bad))
    with pytest.raises(DecodeError):
        assemble(manifest, [chunks[0], bytes(bad), chunks[2]])


@pytest.mark.parametrize("name", ["", "a\nb", "x" * 256, 7])
def test_bad_names_are_refused(name):
    with pytest.raises(ConfigError):
        check_name(name)


entries = st.builds(
    CatalogEntry,
    name=st.just("n"),
    object_id=st.sampled_from(["a" * 64, "b" * 64]),
    put_unix_s=st.integers(0, 3).map(float),
    deleted=st.booleans(),
    updated_unix_s=st.integers(0, 3).map(float),
)


@given(st.lists(entries, min_size=1, max_size=6), st.randoms())
def test_catalogue_merge_is_order_independent(items, rnd):
    def fold(xs):
        current = None
        for x in xs:
            current = merge_entries(current, x)
        return current

    shuffled = list(items)
    rnd.shuffle(shuffled)
    assert fold(items).order == fold(shuffled).order


def test_tombstone_beats_its_put_and_later_repairs_but_not_a_newer_put():
    put = CatalogEntry("n", "a" * 64, 10.0, False, 10.0)
    tomb = put.tombstone(20.0)
    repair = CatalogEntry("n", "a" * 64, 10.0, False, 30.0)
    assert merge_entries(merge_entries(put, tomb), repair) is tomb
    newer = CatalogEntry("n", "b" * 64, 40.0, False, 40.0)
    assert merge_entries(tomb, newer) is newer


def _messages():
    manifest, chunks = make_manifest(
        "eo/x", b"hello" * 1000, chunk_bytes=1024, metadata={"k": "v"}, origin=1, replicas=(10, 20)
    )
    entry = CatalogEntry("eo/x", manifest.object_id, 1.0, False, 1.0, manifest)
    return [
        StoreMsg(manifest, 2, chunks[2], 1),
        StoredMsg(manifest.object_id, 10),
        GetMsg(manifest.object_id, 7, 2, (0, 3)),
        ChunkMsg(manifest.object_id, 7, 0, chunks[0]),
        CatalogMsg(entry),
        LostMsg(10, 5.5),
    ]


@pytest.mark.parametrize("msg", _messages(), ids=lambda m: type(m).__name__)
def test_messages_round_trip(msg):
    assert decode_message(encode_message(msg)) == msg


@given(st.binary(max_size=300))
def test_garbage_is_a_decode_error(data):
    try:
        decode_message(data)
    except DecodeError:
        pass


@pytest.mark.parametrize(
    "body",
    [
        [2, 2, "a" * 64, 1],
        [1, 99],
        [1, 2, "A" * 64, 1],
        [1, 2, "a" * 64, 0],
        [1, 3, "a" * 64, 1, 2, "x"],
        [1, 4, "a" * 64, 1, -1, b""],
        [1, 5, ["", "a" * 64, 0.0, False, 0.0, None]],
        {"op": 1},
    ],
)
def test_malformed_messages_name_the_problem(body):
    with pytest.raises(DecodeError):
        decode_message(cbor2.dumps(body))


def test_trailing_bytes_are_refused():
    with pytest.raises(DecodeError, match="trailing"):
        decode_message(encode_message(StoredMsg("a" * 64, 3)) + b"\x00")


def test_placement_uses_distinct_planes_and_a_centre():
    plan = small_constellation()
    cands = candidates_from_plan(plan, centres=[2], arrival=lambda n: float(n))
    assert choose_replicas(cands, 3, exclude={1}) == (2, 10, 20)  # the centre, then planes 0 and 1
    sats = choose_replicas(candidates_from_plan(plan, arrival=lambda n: float(n)), 3)
    assert len({PLANES[n] for n in sats}) == 3
    # more replicas than planes: a plane is reused only once every plane has one
    five = choose_replicas(candidates_from_plan(plan, arrival=lambda n: float(n)), 5)
    assert [PLANES[n] for n in five[:3]] == [0, 1, 2] and len(set(five)) == 5


@given(st.dictionaries(st.sampled_from(sorted(PLANES)), st.floats(0, 1e4)), st.integers(1, 5))
def test_placement_prefers_unused_planes(arrivals, k):
    cands = [Candidate(n, "satellite", PLANES[n], arrivals.get(n)) for n in PLANES]
    chosen = choose_replicas(cands, k)
    reachable_planes = {PLANES[n] for n in arrivals}
    assert len(chosen) == min(k, len(arrivals))
    assert len({PLANES[n] for n in chosen}) == min(len(chosen), len(reachable_planes))
    assert all(n in arrivals for n in chosen)


def test_repair_picks_a_plane_no_survivor_uses():
    cands = [Candidate(n, "satellite", PLANES[n], 1.0) for n in PLANES]
    assert repair_replica(cands, [10, 20, 30], lost=[30]) in (11, 21)  # plane 2 has no spare left
    assert repair_replica(cands, [10, 20, 30], lost=[20]) == 21  # plane 1 has a spare
    assert repair_replica([], [10], lost=[10]) is None


def test_retrieval_drops_duplicates_and_rejects_corrupt_chunks():
    manifest, chunks = make_manifest("o", bytes(range(256)) * 20, chunk_bytes=1024)
    r = Retrieval(manifest)
    assert r.add(0, b"x" * 1024) is AddResult.CORRUPT
    assert r.add(0, chunks[0]) is AddResult.ACCEPTED
    assert r.add(0, chunks[0]) is AddResult.DUPLICATE
    for i, c in enumerate(chunks[1:], 1):
        r.add(i, c)
    assert r.complete and r.assemble() == b"".join(chunks)
    assert rank_holders([3, 1, 2], {1: 5.0, 2: None, 3: 4.0}.get, down=[]) == [(3, 4.0), (1, 5.0)]


def test_db_survives_reopen_and_enforces_its_quota(tmp_path):
    path = tmp_path / "a.archive"
    manifest, chunks = make_manifest("o", bytes(3000), chunk_bytes=1024, origin=1, replicas=(2,))
    db = ArchiveDB(path, max_bytes=4000)
    db.add_object(manifest, "replica", 1.0)
    db.put_chunks(manifest.object_id, chunks)
    db.mark_complete(manifest.object_id, 2.0)
    db.catalog_merge(CatalogEntry("o", manifest.object_id, 1.0, False, 1.0, manifest))
    other, other_chunks = make_manifest("p", b"\1" * 2000, chunk_bytes=1024)
    with pytest.raises(StoreError, match="quota"):
        db.put_chunks(other.object_id, other_chunks)
    db._db.close()  # no orderly close: as after a crash
    db = ArchiveDB(path, max_bytes=4000)
    assert db.object(manifest.object_id)["complete"] and db.used_bytes == 3000
    assert assemble(manifest, db.chunks(manifest.object_id)) == bytes(3000)
    assert [e.name for e in db.catalog()] == ["o"]
    db.close()
