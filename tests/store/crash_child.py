"""The process the crash test kills: stores bundles as fast as it can (put, put_many, streamed put_file,
delete_many) and reports each acknowledgment.

Run as ``python -m tests.store.crash_child DB SEED``. Prints one line per event, flushed at once:
``ACK size key`` after a put returned (the bundle is durable), ``DELETING key`` before and ``DELETED key``
after a delete. The parent SIGKILLs it at a random moment.
"""

from __future__ import annotations

import random
import sys

from dtn.store import SqliteStore
from tests.store.helpers import entry, payload

INLINE_THRESHOLD_BYTES = 8192


def main(path: str, seed: int) -> None:
    rng = random.Random(seed)
    store = SqliteStore(path, inline_threshold_bytes=INLINE_THRESHOLD_BYTES)  # synchronous=FULL: the real thing
    out = sys.stdout
    out.write("READY\n")
    out.flush()
    acked: list[str] = []
    n = seed * 1_000_000
    while True:
        batch = []
        for _ in range(rng.choice((1, 1, 2, 5, 16))):
            n += 1
            size = rng.choice((0, 100, 2000, 8192, 8193, 50_000, 300_000))
            record = entry(n, destination=f"ipn:{n % 4}.1")
            batch.append((record, payload(record.key, size)))
        if len(batch) == 1 and rng.random() < 0.3:
            record, data = batch[0]
            stored = [store.put_file(record, (data[i : i + 4096] for i in range(0, len(data), 4096)))]
        elif len(batch) == 1:
            stored = [store.put(*batch[0])]
        else:
            stored = store.put_many(batch)
        assert all(stored)
        out.write("".join(f"ACK {len(data)} {r.key}\n" for r, data in batch))
        out.flush()
        acked += [r.key for r, _ in batch]
        if len(acked) > 20 and rng.random() < 0.3:
            victims = rng.sample(acked, 3)
            out.write("".join(f"DELETING {key}\n" for key in victims))
            out.flush()
            store.delete_many(victims)
            out.write("".join(f"DELETED {key}\n" for key in victims))
            out.flush()
            acked = [key for key in acked if key not in victims]


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
