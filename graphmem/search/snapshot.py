"""A tenant's query index as bytes, so that a process's first query loads it instead of building it.

Building the index of a large tenant reads every record into objects, tokenizes every turn and
numbers the graph (about 5 s at 100,000 turns); loading a snapshot of it reads columns and
arrays back (README, "Deployment"). A snapshot reflects the tenant at one write version, like
the index it was taken from: a process loads the newest snapshot no rewrite has overtaken and
extends it by the turns appended since, exactly as a live index catches up.

The format is safe to read from a store others write to: numpy arrays and one JSON document in
an uncompressed npz archive, read with `allow_pickle=False`. Nothing in it is executed. Its
`key` names the format, the graphmem version and the settings the index was built with
(edge weights, embeddings): an index built otherwise is never loaded.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import asdict, fields
from datetime import date, datetime
from importlib.metadata import version

import numpy as np

from graphmem.models import EntityNode, EntityType, MessageNode, Precision, RelationEdge
from graphmem.search.dense import DenseIndex
from graphmem.search.engine import GroupIndex, collector_paused
from graphmem.search.lexical import LexicalIndex
from graphmem.search.projection import EdgeWeights, GraphProjection, with_room
from graphmem.search.rerank import TurnContext

SNAPSHOT_FORMAT = 2  # 2: with the turn context
_TURN_ARRAYS = tuple(name for name in TurnContext.ARRAYS if name != "has_photo")  # its integers; has_photo is bool
_ARRAYS = ("links", "link_weights", "message_vertices", "lengths", "indptr", "docs", "tfs", "asking", "has_photo",
           *_TURN_ARRAYS)
# int64 in the index, int32 in a snapshot
_INTEGERS = ("message_vertices", "docs", *_TURN_ARRAYS)  # and "links", widened into a buffer with room
_COUNTS = ("lengths", "tfs")  # float64 in the index, whole numbers stored as int32
_MALFORMED = (OSError, LookupError, ValueError, TypeError, zipfile.BadZipFile)  # what bad bytes raise, in any part
_MESSAGE_FIELDS = [f.name for f in fields(MessageNode)]
_RELATION_FIELDS = [f.name for f in fields(RelationEdge)]


class SnapshotError(ValueError):
    """Bytes that are not a readable index snapshot (truncated, or not written by this module)."""


def snapshot_key(weights: EdgeWeights, embeddings: str) -> str:
    """What an index must have been built with for its snapshot to stand in for a build here.

    A change to what an index holds or how it is built must raise SNAPSHOT_FORMAT (released
    versions differ by the package version anyway)."""
    settings = json.dumps([SNAPSHOT_FORMAT, version("graphmem"), asdict(weights), embeddings], sort_keys=True)
    return hashlib.sha256(settings.encode()).hexdigest()[:32]


def index_to_bytes(index: GroupIndex) -> bytes:
    """The index as a snapshot (see the module's docstring for the format)."""
    projection, lexical = index.projection, index.lexical
    messages = index.messages
    turns = index.turn_context()  # the first query needs it: worked out once here, not in each loading process
    document = {
        "group_id": index.group_id,
        "version": index.version,
        "messages": [[getattr(m, name) for m in messages] for name in _MESSAGE_FIELDS] if messages else [],
        "entities": [[e.id, e.name, e.type, list(e.aliases)] for e in index.entities.values()],
        "relations": [[getattr(r, name) for name in _RELATION_FIELDS] for r in index.relations],
        "vocab": list(lexical.vocab),
        "keys": projection.keys,
        "entity_vertices": list(projection.entity_vertices),
        "entity_degree": list(projection.entity_degree.items()),
        "last_turns": [[conversation, session, message] for (conversation, session), message
                       in projection.last_turns.items()],
        "stated_days": list(index.stated_days.items()),
        "captions": [list(index.captions), list(index.captions.values())],
        "turn_sessions": [[*key, session] for key, session in turns.sessions.items()],
        "turn_last": [[*key, position] for key, position in turns.last_turn.items()],
    }
    lengths, indptr, docs, tfs = lexical.compacted()
    arrays = {  # vertex and document numbers, lengths and term frequencies fit 32-bit integers
        "links": projection.links.astype(np.int32), "link_weights": projection.link_weights,
        "message_vertices": projection.message_vertices.astype(np.int32),
        "lengths": lengths.astype(np.int32), "indptr": indptr, "docs": docs.astype(np.int32),
        "tfs": tfs.astype(np.int32), "asking": index.asking_turns(), "has_photo": turns.has_photo,
        **{name: getattr(turns, name).astype(np.int32) for name in _TURN_ARRAYS},
        "document": np.frombuffer(json.dumps(document, default=_json_value).encode(), dtype=np.uint8),
    }
    if index.dense is not None:
        arrays["dense"] = index.dense.vectors
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def index_from_bytes(data: bytes, weights: EdgeWeights, embeddings: str) -> GroupIndex:
    """The index a snapshot holds. Raises SnapshotError for bytes that are not a snapshot."""
    try:
        with collector_paused():
            return _restored(data, weights, embeddings)
    except SnapshotError:
        raise
    except _MALFORMED as exc:
        raise SnapshotError(f"not a readable index snapshot: {exc!r}") from exc


def _restored(data: bytes, weights: EdgeWeights, embeddings: str) -> GroupIndex:
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in (*_ARRAYS, "document")}
        arrays.update({name: arrays[name].astype(np.int64) for name in _INTEGERS})
        arrays.update({name: arrays[name].astype(np.float64) for name in _COUNTS})
        dense = archive["dense"] if "dense" in archive.files else None
    document = json.loads(arrays["document"].tobytes())
    if (embeddings != "none") != (dense is not None):
        raise SnapshotError("the snapshot's embeddings do not match the configured ones")
    same = {}.setdefault  # one string object per id, as a build shares them (JSON makes one per occurrence)
    messages = _messages(document["messages"], same)
    entities = [EntityNode(same(id_, id_), name, EntityType(type_), tuple(aliases))
                for id_, name, type_, aliases in document["entities"]]
    relations = [_relation(row, same) for row in document["relations"]]
    keys = [same(key, key) for key in document["keys"]]
    vertex = dict(zip(keys, range(len(keys))))
    projection = GraphProjection(
        keys=keys, vertex=vertex, links=with_room(arrays["links"], dtype=np.int64),
        link_weights=with_room(arrays["link_weights"]),
        message_vertices=arrays["message_vertices"],
        entity_vertices={e: vertex[e] for e in document["entity_vertices"]},
        entity_degree=dict(document["entity_degree"]),
        last_turns={(conversation, session): message for conversation, session, message in document["last_turns"]},
    )
    caption_keys, caption_texts = document["captions"]
    lexical = LexicalIndex.from_compacted(document["vocab"], arrays["lengths"], arrays["indptr"], arrays["docs"],
                                          arrays["tfs"])
    stated_days = {message: [tuple(span) for span in spans] for message, spans in document["stated_days"]}
    index = GroupIndex.from_parts(
        document["group_id"], weights, messages, lexical, DenseIndex(dense, embeddings) if dense is not None else None,
        entities, projection, relations, stated_days, dict(zip(caption_keys, caption_texts)), document["version"],
    )
    index.asking = arrays["asking"]
    index.turns = TurnContext(
        **{name: arrays[name] for name in _TURN_ARRAYS}, has_photo=arrays["has_photo"],
        last_turn={(conversation, session): position for conversation, session, position in document["turn_last"]},
        sessions={(conversation, session): number for conversation, session, number in document["turn_sessions"]},
    )
    if any(len(values) != len(messages) for values in (*(arrays[name] for name in _TURN_ARRAYS),
                                                       arrays["has_photo"], arrays["asking"])):
        raise SnapshotError("the snapshot's per-turn arrays do not match its messages")
    return index


def embeddings_from_bytes(data: bytes, embeddings: str) -> tuple[list[MessageNode], DenseIndex] | None:
    """The messages and embeddings a snapshot holds (None if it holds none), whatever version it
    is of: what a rebuild can take instead of embedding those texts again. Raises SnapshotError for
    bytes that are not a snapshot."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            if "dense" not in archive.files:
                return None
            dense, document = archive["dense"], json.loads(archive["document"].tobytes())
        messages = _messages(document["messages"], {}.setdefault)
    except _MALFORMED as exc:
        raise SnapshotError(f"not a readable index snapshot: {exc!r}") from exc
    if len(dense) != len(messages):
        raise SnapshotError("the snapshot's embeddings do not match its messages")
    return messages, DenseIndex(dense, embeddings)


def _json_value(value: object) -> str:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} in an index snapshot")


def _messages(columns: list[list], same: Callable[[str, str], str]) -> list[MessageNode]:
    if not columns:
        return []
    id_, source, conversation, seq, speaker, speaker_id, text, ts, session, caption, addressee, digest = columns
    shared = [[same(value, value) if value is not None else None for value in column]
              for column in (id_, conversation, speaker, speaker_id, addressee)]
    id_, conversation, speaker, speaker_id, addressee = shared
    stamps = map(datetime.fromisoformat, ts)
    return list(map(MessageNode, id_, source, conversation, seq, speaker, speaker_id, text, stamps, session, caption,
                    addressee, digest))


def _relation(row: list, same: Callable[[str, str], str]) -> RelationEdge:
    (id_, subject, object_, predicate, fact, message, observed_at, valid_from, valid_to, precision, confidence,
     expired_at, superseded_by) = row
    return RelationEdge(
        same(id_, id_), same(subject, subject), same(object_, object_), predicate, fact, same(message, message),
        datetime.fromisoformat(observed_at), _day(valid_from),
        _day(valid_to), Precision(precision) if precision else None, confidence,
        datetime.fromisoformat(expired_at) if expired_at else None, superseded_by,
    )


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None
