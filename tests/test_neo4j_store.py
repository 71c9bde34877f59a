"""Neo4j-only behaviour: the graph model, hostile input, concurrency, errors, schema.

The store contract (tests/test_store_contract.py) runs against Neo4j too; these tests cover
what only a server store has. They need the local server (`dev/neo4j/start`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from graphmem.errors import StoreError
from graphmem.ingest.graph_builder import build_graph_batch
from graphmem.models import (
    EntityNode,
    EntityType,
    ExtractedEntity,
    ExtractedRelation,
    Mention,
    MessageExtraction,
    RelationEdge,
    stable_id,
)
from graphmem.store.neo4j.cypher import load, names
from graphmem.store.neo4j.store import Neo4jStore, RetryPolicy
from graphmem.store.sqlite.store import SQLiteStore
from tests.conftest import conversation, neo4j_settings, run_cypher
from tests.test_store_contract import _batch

pytestmark = pytest.mark.neo4j

HOSTILE_NAMES = ("'}) DETACH DELETE n //", "`Entity` `) MATCH (x) DELETE x", "\\u0027 OR 1=1 $group_id {x}")


def _count(store: Neo4jStore, statement: str, **params) -> int:
    (row,) = run_cypher(store, statement, **params)
    return row["n"]


def _duplicates(store: Neo4jStore) -> tuple[int, int]:
    """Nodes sharing (label, group_id, id), and relationships repeated between the same nodes."""
    nodes = _count(store, """MATCH (n) WITH labels(n) AS labels, n.group_id AS group_id, n.id AS id, count(*) AS copies
                             WHERE copies > 1 RETURN count(*) AS n""")
    edges = _count(store, """MATCH (a)-[r]->(b) WITH a, b, type(r) AS type, properties(r) AS properties, count(*) AS copies
                             WHERE copies > 1 RETURN count(*) AS n""")
    return nodes, edges


def _all_nodes(store: Neo4jStore) -> int:
    return _count(store, "MATCH (n) RETURN count(n) AS n")


def _all_edges(store: Neo4jStore) -> int:
    return _count(store, "MATCH ()-[r]->() RETURN count(r) AS n")


# -- the graph model -------------------------------------------------------------------------


def test_graph_model_links_messages_entities_events_and_relations(neo4j_store):
    neo4j_store.write("g1", _batch("g1"))
    edge_types = {
        row["type"]: row["n"]
        for row in run_cypher(neo4j_store, "MATCH ()-[r]->() RETURN type(r) AS type, count(r) AS n")
    }
    assert edge_types == {
        "IN": 2, "SPOKEN_BY": 2, "ADDRESSED_TO": 2, "NEXT": 1, "MENTIONS": 2, "FROM": 2, "AT": 1,
        "PARTICIPATED_IN": 4, "RELATES": 1,
    }
    (turn,) = run_cypher(neo4j_store, "MATCH (a:Message)-[:NEXT]->(b:Message) RETURN a.seq AS a, b.seq AS b")
    assert turn == {"a": 0, "b": 1}
    (typed,) = run_cypher(
        neo4j_store,
        """MATCH (m:Message) WITH m ORDER BY m.seq LIMIT 1 MATCH ()-[r:RELATES]->() MATCH (e:Event) WHERE e.ts_start IS NOT NULL
           RETURN valueType(m.ts) AS ts, valueType(r.valid_from) AS valid_from, valueType(e.ts_start) AS ts_start LIMIT 1""",
    )
    assert typed == {"ts": "LOCAL DATETIME NOT NULL", "valid_from": "DATE NOT NULL", "ts_start": "DATE NOT NULL"}


def test_turn_links_follow_messages_written_out_of_order(neo4j_store):
    talk = conversation(("Ann", "one"), ("Bob", "two"), ("Ann", "three"), ("Bob", "four"))
    first, second, third, fourth = talk.messages
    neo4j_store.write("g1", build_graph_batch("g1", talk, [first, fourth], []))
    neo4j_store.write("g1", build_graph_batch("g1", talk, [third], []))
    neo4j_store.write("g1", build_graph_batch("g1", talk, [second], []))
    neo4j_store.write("g1", build_graph_batch("g1", talk, [second, third], []))  # rewritten: links stay right
    turns = run_cypher(neo4j_store, "MATCH (a:Message)-[:NEXT]->(b:Message) RETURN a.seq AS a, b.seq AS b ORDER BY a")
    assert turns == [{"a": 0, "b": 1}, {"a": 1, "b": 2}, {"a": 2, "b": 3}]


def test_a_failed_write_leaves_the_store_as_it_was(neo4j_store):
    neo4j_store.write("g1", _batch("g1"))
    before, edges = _all_nodes(neo4j_store), _all_edges(neo4j_store)
    broken = _batch("g1", text_suffix=" (edited)")
    broken.events[-1] = replace(broken.events[-1], summary={"a map": "is no property value"})  # fails mid-write
    with pytest.raises(StoreError):
        neo4j_store.write("g1", broken)
    assert (_all_nodes(neo4j_store), _all_edges(neo4j_store)) == (before, edges)
    assert not neo4j_store.messages("g1")[0].text.endswith("(edited)")


def _same_reads(a, b, group_id: str) -> None:
    for read in ("messages", "entities", "mentions", "events", "facts", "counts"):
        assert getattr(a, read)(group_id) == getattr(b, read)(group_id), read


def test_same_semantics_as_the_sqlite_store(neo4j_store, tmp_path):
    """Type refinement, alias union, shared provenance and rewrites end in the same state on both stores."""
    sqlite = SQLiteStore(tmp_path / "memory.db")
    talk = conversation(("Ann", "I love Rex, my dog"), ("Bob", "Rex is a good dog"), ("Ann", "Rexy is great"))
    rex_thing = ExtractedEntity(name="Rex", type=EntityType.THING, mention="Rex")
    rex_person = ExtractedEntity(name="Rex", type=EntityType.PERSON, mention="Rexy")
    owns = ExtractedRelation(subject="Ann", predicate="own", object="Rex", fact="Ann owns Rex")
    steps = [
        [MessageExtraction(message_id="m0", entities=(rex_thing,), relations=(owns,))],
        [MessageExtraction(message_id="m1", entities=(rex_thing,), relations=(owns,))],  # a second source
        [MessageExtraction(message_id="m2", entities=(rex_person,))],  # refines thing -> person, adds an alias
        [MessageExtraction(message_id="m0")],  # m0 rewritten without the relation: m1 still states it
        [MessageExtraction(message_id="m1")],  # no source left: the relation goes
    ]
    for extractions in steps:
        message_ids = {e.message_id for e in extractions}
        batch = build_graph_batch("g1", talk, [m for m in talk.messages if m.id in message_ids], extractions)
        counts = {store: store.write("g1", batch) for store in (sqlite, neo4j_store)}
        assert counts[sqlite] == counts[neo4j_store]
        _same_reads(sqlite, neo4j_store, "g1")
        if extractions[0].message_id == "m2":
            (rex,) = [e for e in neo4j_store.entities("g1") if e.name == "Rex"]
            assert (rex.type, rex.aliases) == ("person", ("Rexy",))
        if extractions[0].message_id == "m0" and not extractions[0].relations:
            (relation,) = neo4j_store.facts("g1")
            assert relation.message_id == neo4j_store.messages("g1")[1].id
    assert neo4j_store.facts("g1") == []
    sqlite.close()


# -- hostile input ---------------------------------------------------------------------------


def _hostile_batch(group: str, name: str):
    """A conversation spoken by `name`, plus an entity, alias and relation named `name` verbatim.

    Group ids cannot be hostile (check_group_id refuses them); every other value can.
    """
    talk = conversation((name, f"{name} met `Bob`"), ("Bob", f"hi {name}"))
    batch = build_graph_batch(group, talk, talk.messages, [])
    first = batch.messages[0]
    entity = EntityNode(stable_id(group, "entity", name), name, "thing", (f"`{name}`",))
    batch.entities.append(entity)
    batch.mentions.append(Mention(first.id, entity.id))
    batch.relations.append(
        RelationEdge(stable_id(group, "relation", name), entity.id, first.speaker_id, name, name, first.id, first.ts)
    )
    return batch


def test_hostile_names_are_stored_verbatim_and_touch_nothing_else(neo4j_store):
    neo4j_store.write("bystander", _batch("bystander"))
    bystander_nodes, bystander_edges = _all_nodes(neo4j_store), _all_edges(neo4j_store)
    groups = {f"hostile-{index}": name for index, name in enumerate(HOSTILE_NAMES)}
    for group, name in groups.items():
        counts = neo4j_store.write(group, _hostile_batch(group, name))
        assert (counts.messages, counts.entities, counts.facts) == (2, 3, 1)
        first = neo4j_store.messages(group)[0]
        assert (first.speaker, first.text) == (name, f"{name} met `Bob`")
        assert (name, (f"`{name}`",)) in {(e.name, e.aliases) for e in neo4j_store.entities(group)}
        (relation,) = neo4j_store.facts(group)
        assert (relation.predicate, relation.fact) == (name, name)
    assert neo4j_store.counts("bystander").messages == 2
    assert set(neo4j_store.groups()) == {"bystander", *groups}
    for group in groups:
        neo4j_store.forget(group)
    # A forgotten tenant keeps only its write version, so that readers of it see the deletion.
    kept = run_cypher(neo4j_store, "MATCH (n) WHERE NOT n.group_id = 'bystander' RETURN labels(n) AS labels, n.group_id AS g")
    assert sorted(r["g"] for r in kept) == sorted(groups) and {tuple(r["labels"]) for r in kept} == {("TenantVersion",)}
    assert (_all_nodes(neo4j_store) - len(kept), _all_edges(neo4j_store)) == (bystander_nodes, bystander_edges)


def test_a_large_tenant_is_deleted_in_batches_and_nothing_else_goes(neo4j_store):
    neo4j_store.write("bystander", _batch("bystander"))
    kept = (_all_nodes(neo4j_store), _all_edges(neo4j_store))
    batch = _batch("big")
    batch.entities += [EntityNode(stable_id("big", "entity", str(i)), f"thing {i}", "thing") for i in range(2_500)]
    neo4j_store.write("big", batch)
    assert neo4j_store.counts("big").entities > 2_500
    neo4j_store.forget("big")  # CALL { } IN TRANSACTIONS: fails inside an explicit transaction
    assert neo4j_store.counts("big") == neo4j_store.counts("nobody")
    # only the forgotten tenant's write version stays (readers of it must see the deletion)
    assert (_all_nodes(neo4j_store) - 1, _all_edges(neo4j_store)) == kept
    assert run_cypher(neo4j_store, "MATCH (v:TenantVersion {group_id: 'big'}) RETURN v.version AS version")


@pytest.mark.parametrize("value", ["lone \ud800", 2**70])
def test_values_the_driver_cannot_pack_are_store_errors(neo4j_store, value):
    neo4j_store.write("g1", _batch("g1"))
    before = (_all_nodes(neo4j_store), _all_edges(neo4j_store))
    batch = _batch("g1", text_suffix=" edited")
    batch.messages[0] = replace(batch.messages[0], **({"text": value} if isinstance(value, str) else {"seq": value}))
    with pytest.raises(StoreError, match="cannot be sent a value"):
        neo4j_store.write("g1", batch)
    assert (_all_nodes(neo4j_store), _all_edges(neo4j_store)) == before


# -- concurrency -----------------------------------------------------------------------------


def _shared_cast_batch(group_id: str, conversation_id: str, turns: int = 40):
    """A conversation between the same two people as every other, about the same places."""
    talk = conversation(
        *((("Ann", "Bob")[i % 2], f"turn {i} about Lisbon and Porto") for i in range(turns)),
        conversation_id=conversation_id,
    )
    places = ("Lisbon", "Porto", "Madrid")
    extractions = [
        MessageExtraction(
            message_id=m.id,
            entities=tuple(ExtractedEntity(name=p, type=EntityType.PLACE, mention=p) for p in places),
            relations=(ExtractedRelation(subject=m.speaker, predicate="visit", object=places[i % 3], fact=m.text),),
        )
        for i, m in enumerate(talk.messages)
    ]
    return build_graph_batch(group_id, talk, talk.messages, extractions)


def _at_once(*jobs: Callable[[], object]) -> list[object]:
    """Run jobs on their own threads, released together; re-raises the first job's error."""
    start = threading.Barrier(len(jobs))

    def released(job):
        start.wait()
        return job()

    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = [pool.submit(released, job) for job in jobs]
        return [future.result() for future in futures]


def test_concurrent_ingests_of_different_conversations_into_one_group(neo4j_store):
    batches = [_shared_cast_batch("g1", f"c{i}") for i in range(4)]
    _at_once(*(lambda b=b: neo4j_store.write("g1", b) for b in batches))
    assert _duplicates(neo4j_store) == (0, 0)
    counts = neo4j_store.counts("g1")
    assert (counts.conversations, counts.messages, counts.entities) == (4, 160, 5)
    assert counts.facts == 6  # two speakers x three places, each stated in every conversation
    assert _count(neo4j_store, "MATCH (:Message)-[r:NEXT]->(:Message) RETURN count(r) AS n") == 4 * 39


def test_concurrent_writes_of_the_same_batch_count_and_store_it_once(neo4j_store):
    for round_ in range(3):
        group = f"g{round_}"
        batch = _shared_cast_batch(group, "c1")
        first, second = _at_once(lambda: neo4j_store.write(group, batch), lambda: neo4j_store.write(group, batch))
        assert first + second == neo4j_store.write("alone", _shared_cast_batch("alone", "c1"))
        neo4j_store.forget("alone")
        assert _duplicates(neo4j_store) == (0, 0)
        assert neo4j_store.counts(group).messages == 40


def test_a_deadlock_is_retried_not_raised(neo4j_store):
    """Two transactions lock two nodes in opposite orders; the server kills one, the store retries it."""
    run_cypher(neo4j_store, "CREATE (:DeadlockProbe {key: 'a'}), (:DeadlockProbe {key: 'b'})")
    both_hold_one = threading.Barrier(2)
    attempts = {"ab": 0, "ba": 0}

    def lock_in_order(order: str):
        def work(tx):
            attempts[order] += 1
            for position, key in enumerate(order):
                tx.run("MATCH (n:DeadlockProbe {key: $key}) SET n.holder = $order", key=key, order=order).consume()
                if position == 0 and attempts[order] == 1:
                    both_hold_one.wait(timeout=10)
            return order

        return lambda: neo4j_store._write(work)

    assert _at_once(lock_in_order("ab"), lock_in_order("ba")) == ["ab", "ba"]
    assert attempts["ab"] + attempts["ba"] >= 3  # one of them was chosen as the deadlock victim and retried


def test_retry_delays_grow_with_jitter_within_the_budget():
    policy = RetryPolicy(first_delay=0.1, max_delay=1.0, budget=5.0)
    delays = list(policy.delays())
    assert 0.05 <= delays[0] <= 0.1 and 0.1 <= delays[1] <= 0.2 and 0.2 <= delays[2] <= 0.4
    assert all(0.5 <= d <= 1.0 for d in delays[4:])
    assert sum(delays[:-1]) < 5.0 <= sum(delays) < 6.0


# -- errors ----------------------------------------------------------------------------------


def test_wrong_password_names_the_uri_and_the_fix(neo4j_session_store):
    settings = neo4j_settings()
    with pytest.raises(StoreError) as caught:
        Neo4jStore(settings["uri"], settings["user"], "not-the-password", settings["database"])
    message = str(caught.value)
    assert settings["uri"] in message and "dev/neo4j/start" in message and "refused" in message
    assert "\n" not in message
    assert not caught.value.transient  # retrying cannot fix a wrong password


def test_unreachable_server_names_the_uri_and_the_fix():
    with pytest.raises(StoreError) as caught:
        Neo4jStore("bolt://127.0.0.1:1", "neo4j", "graphmem-dev")
    message = str(caught.value)
    assert "bolt://127.0.0.1:1" in message and "dev/neo4j/start" in message and "NEO4J_URI" in message
    assert caught.value.transient  # the server may come up


# -- schema ----------------------------------------------------------------------------------


def test_schema_is_idempotent_and_the_constraints_exist(neo4j_store):
    settings = neo4j_settings()
    for _ in range(2):
        Neo4jStore(**settings).close()
    constraints = {row["name"]: row for row in run_cypher(neo4j_store, "SHOW CONSTRAINTS YIELD name, type, labelsOrTypes, properties")}
    for name, label in [("conversation_key", "Conversation"), ("message_key", "Message"), ("entity_key", "Entity"),
                        ("event_key", "Event"), ("relates_key", "RELATES")]:
        assert constraints[name]["labelsOrTypes"] == [label]
        assert constraints[name]["properties"] == ["group_id", "id"]
        assert constraints[name]["type"] in ("UNIQUENESS", "RELATIONSHIP_UNIQUENESS")
    indexes = {row["name"]: row["type"] for row in run_cypher(neo4j_store, "SHOW INDEXES YIELD name, type")}
    assert indexes["message_text"] == indexes["entity_names"] == "FULLTEXT"
    assert {"message_ts", "event_ts_start", "relates_valid_from", "message_group"} <= indexes.keys()


def test_every_named_statement_compiles(neo4j_store):
    statements = [name for folder in ("read", "write", "delete") for name in names(folder)]
    assert len(statements) >= 15
    for name in statements:
        run_cypher(neo4j_store, "EXPLAIN " + load(name))
