"""The orbital archive, pure parts: object model, chunking, catalogue, messages, placement, retrieval, storage.

Objects are content-addressed (sha256 of the whole content), named, carry metadata, and travel as chunks inside
bundles addressed to the archive service (`ipn:N.<ARCHIVE_SERVICE>`). Nothing here imports Trio: the service that
moves these messages is `dtn.node.archive`. docs/archive.md describes the design.
"""

from dtn.archive.db import ArchiveDB
from dtn.archive.messages import (
    ChunkMsg,
    CatalogMsg,
    GetMsg,
    LostMsg,
    MessageType,
    StoreMsg,
    StoredMsg,
    decode_message,
    encode_message,
)
from dtn.archive.model import (
    ARCHIVE_SERVICE,
    DEFAULT_CHUNK_BYTES,
    DEFAULT_REPLICAS,
    CatalogEntry,
    Manifest,
    assemble,
    check_name,
    chunk_hash,
    make_manifest,
    merge_entries,
    object_id_of,
    split_chunks,
)
from dtn.archive.placement import Candidate, candidates_from_plan, choose_replicas, repair_replica
from dtn.archive.retrieval import AddResult, Retrieval, rank_holders

__all__ = [
    "ARCHIVE_SERVICE",
    "DEFAULT_CHUNK_BYTES",
    "DEFAULT_REPLICAS",
    "AddResult",
    "ArchiveDB",
    "Candidate",
    "CatalogEntry",
    "CatalogMsg",
    "ChunkMsg",
    "GetMsg",
    "LostMsg",
    "Manifest",
    "MessageType",
    "Retrieval",
    "StoreMsg",
    "StoredMsg",
    "assemble",
    "candidates_from_plan",
    "check_name",
    "choose_replicas",
    "chunk_hash",
    "decode_message",
    "encode_message",
    "make_manifest",
    "merge_entries",
    "object_id_of",
    "rank_holders",
    "repair_replica",
    "split_chunks",
]
