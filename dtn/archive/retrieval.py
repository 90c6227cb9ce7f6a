"""Getting an object back: which holders to ask, and collecting verified chunks (pure).

`rank_holders` orders the nodes that keep an object by CGR's prediction of when a GET sent now would bring the
whole object back (request there, then the chunks back). `Retrieval` collects chunks from any holder: a chunk
whose hash does not match the manifest is rejected (and asked again elsewhere), a chunk already held is a
duplicate and dropped; the first complete, verified copy of each chunk wins.
"""

from __future__ import annotations

import math
from enum import Enum
from typing import Callable, Iterable

from dtn.archive.model import Manifest, assemble


class AddResult(Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    CORRUPT = "corrupt"


def rank_holders(
    holders: Iterable[int],
    predicted_s: Callable[[int], float | None],
    *,
    down: Iterable[int] = (),
) -> list[tuple[int, float]]:
    """Holders with a prediction, earliest first (ties: node number); unreachable ones are left out."""
    skip = set(down)
    ranked = []
    for node in dict.fromkeys(holders):
        if node in skip:
            continue
        t = predicted_s(node)
        if t is not None and math.isfinite(t):
            ranked.append((node, t))
    ranked.sort(key=lambda item: (item[1], item[0]))
    return ranked


class Retrieval:
    """The chunks of one object gathered so far."""

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self.chunks: dict[int, bytes] = {}
        self.corrupt = 0
        self.duplicates = 0

    def add(self, index: int, data: bytes) -> AddResult:
        if index in self.chunks:
            self.duplicates += 1
            return AddResult.DUPLICATE
        if not self.manifest.verify_chunk(index, data):
            self.corrupt += 1
            return AddResult.CORRUPT
        self.chunks[index] = data
        return AddResult.ACCEPTED

    def missing(self) -> list[int]:
        return [i for i in range(self.manifest.chunk_count) if i not in self.chunks]

    @property
    def complete(self) -> bool:
        return len(self.chunks) == self.manifest.chunk_count

    def assemble(self) -> bytes:
        return assemble(self.manifest, self.chunks)
