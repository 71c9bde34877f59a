"""The store contract for scenes and personas: every backend passes the same tests."""

from __future__ import annotations

from datetime import datetime

import pytest

from graphmem.ingest.graph_builder import build_graph_batch, entity_id
from graphmem.models import (
    EntityType,
    ExtractedEntity,
    ExtractedEvent,
    ExtractedRelation,
    Facet,
    MessageExtraction,
    Participant,
    Persona,
    PersonaFact,
    Scene,
    SceneMember,
    stable_id,
)
from tests.conftest import conversation, run_cypher


def _write_talk(store, group_id: str, bob_adopted: bool = True) -> dict[str, str]:
    """Ann and Bob's two turns: a relation from Ann's, an event from Bob's; returns their ids."""
    talk = conversation(("Ann", "I work as a nurse in Lisbon."), ("Bob", "I adopted a dog yesterday."))
    extractions = [
        MessageExtraction(
            message_id="m0",
            entities=(ExtractedEntity(name="Lisbon", type=EntityType.PLACE, mention="Lisbon"),),
            relations=(
                ExtractedRelation(subject="Ann", predicate="work as", object="nurse", fact="Ann works as a nurse"),
            ),
        ),
        MessageExtraction(
            message_id="m1",
            events=(ExtractedEvent(predicate="adopt", summary="Bob adopted a dog",
                                   participants=(Participant(name="Bob", role="agent"),)),) if bob_adopted else (),
        ),
    ]
    batch = build_graph_batch(group_id, talk, talk.messages, extractions)
    store.write(group_id, batch)
    return {
        "ann_turn": batch.messages[0].id, "bob_turn": batch.messages[1].id, "relation": batch.relations[0].id,
        "event": batch.events[0].id if batch.events else "",
        "ann": entity_id(group_id, "Ann"), "bob": entity_id(group_id, "Bob"),
    }


def _scene(group_id: str, ids: dict[str, str], persona_ids: tuple[str, ...] = ()) -> Scene:
    when = datetime(2023, 5, 8, 13, 56)
    members = (
        SceneMember(ids["relation"], "relation", 1.0),
        SceneMember(ids["ann_turn"], "message", 0.75),
        SceneMember(ids["event"], "event", 0.5),
        SceneMember(ids["bob_turn"], "message", 0.25),
    )
    return Scene(stable_id(group_id, "scene", ids["ann_turn"]), "nurse, dog", when, when, members,
                 participants=tuple(sorted((ids["ann"], ids["bob"]))), persona_ids=persona_ids)


def _persona(group_id: str, ids: dict[str, str], name: str = "Ann") -> Persona:
    person = ids[name.lower()]
    facts = (
        PersonaFact(ids["relation"], "relation", "Ann works as a nurse", ids["ann_turn"], current=False),
        PersonaFact(ids["event"], "event", "Ann adopted a dog", ids["bob_turn"], moved_from=ids["bob"]),
    )
    facets = (
        Facet(stable_id(group_id, "facet", person, "work"), "nurse, work", facts[:1], (ids["ann_turn"],)),
        Facet(stable_id(group_id, "facet", person, "pets"), "dog", facts[1:],
              tuple(sorted((ids["ann_turn"], ids["bob_turn"])))),
    )
    return Persona(stable_id(group_id, "persona", person), person, name, f"{name}: nurse, work; dog", facets)


def test_scenes_and_personas_read_back_as_written(store):
    ids = _write_talk(store, "g1")
    persona = _persona("g1", ids)
    scene = _scene("g1", ids, persona_ids=(persona.id,))
    store.write_personas("g1", [persona])
    store.write_scenes("g1", [scene])
    assert store.scenes("g1") == [scene]
    assert store.personas("g1") == [persona]


def test_writing_scenes_replaces_the_tenants_scenes(store):
    ids = _write_talk(store, "g1")
    first = _scene("g1", ids)
    store.write_scenes("g1", [first])
    later = Scene(stable_id("g1", "scene", ids["bob_turn"]), "dog", first.ts_start, first.ts_end,
                  (SceneMember(ids["bob_turn"], "message", 1.0),), participants=(ids["bob"],))
    store.write_scenes("g1", [later])
    assert store.scenes("g1") == [later]
    store.write_scenes("g1", [])
    assert store.scenes("g1") == []


def test_writing_personas_replaces_them_and_scenes_show_only_stored_personas(store):
    ids = _write_talk(store, "g1")
    ann, bob = _persona("g1", ids, "Ann"), _persona("g1", ids, "Bob")
    store.write_personas("g1", [ann, bob])
    store.write_scenes("g1", [_scene("g1", ids, persona_ids=tuple(sorted((ann.id, bob.id))))])
    assert store.scenes("g1")[0].persona_ids == tuple(sorted((ann.id, bob.id)))
    store.write_personas("g1", [ann])
    assert store.personas("g1") == [ann]
    assert store.scenes("g1")[0].persona_ids == (ann.id,)


def test_members_no_longer_stored_are_left_out(store):
    ids = _write_talk(store, "g1")
    store.write_scenes("g1", [_scene("g1", ids)])
    _write_talk(store, "g1", bob_adopted=False)  # Bob's turn re-extracted: its event is gone
    assert store.events("g1") == []
    (scene,) = store.scenes("g1")
    assert scene.member_ids() == [ids["relation"], ids["ann_turn"], ids["bob_turn"]]


def test_tenants_are_isolated_and_forget_removes_scenes_and_personas(store):
    for group in ("g1", "g2"):
        ids = _write_talk(store, group)
        store.write_personas(group, [_persona(group, ids)])
        store.write_scenes(group, [_scene(group, ids)])
    g2_scenes, g2_personas = store.scenes("g2"), store.personas("g2")
    g1_members = {m.id for s in store.scenes("g1") for m in s.members}
    assert g1_members.isdisjoint({m.id for s in g2_scenes for m in s.members})
    store.forget("g1")
    assert store.scenes("g1") == [] and store.personas("g1") == []
    assert store.scenes("g2") == g2_scenes and store.personas("g2") == g2_personas


@pytest.mark.neo4j
def test_neo4j_scene_model_for_browser(neo4j_store):
    """The names Browser's saved queries and style use: HAS_MEMBER (also to a relation member's
    source message), INVOLVES, SHOWS, PERSONA_OF, HAS_FACET, SUPPORTED_BY; no nodes left by forget."""
    ids = _write_talk(neo4j_store, "g1")
    persona = _persona("g1", ids)
    scene = Scene(stable_id("g1", "scene", "r"), "nurse", datetime(2023, 5, 8), datetime(2023, 5, 8),
                  (SceneMember(ids["relation"], "relation", 0.5),), participants=(ids["ann"],),
                  persona_ids=(persona.id,))
    neo4j_store.write_personas("g1", [persona])
    neo4j_store.write_scenes("g1", [scene])
    (row,) = run_cypher(
        neo4j_store,
        """MATCH (s:Scene {group_id: 'g1'})-[h:HAS_MEMBER]->(m:Message), (s)-[:INVOLVES]->(e:Entity),
                 (s)-[:SHOWS]->(p:Persona)-[:PERSONA_OF]->(e),
                 (p)-[:HAS_FACET {position: 0}]->(f:Facet)-[:SUPPORTED_BY]->(m)
           RETURN s.size AS size, s.relation_ids AS relation_ids, h.weight AS weight, m.id AS message,
                  p.name AS name, f.facts AS facts""",
    )
    assert row == {"size": 1, "relation_ids": [ids["relation"]], "weight": 0.5, "message": ids["ann_turn"],
                   "name": "Ann", "facts": ["Ann works as a nurse"]}
    neo4j_store.forget("g1")
    assert run_cypher(neo4j_store, "MATCH (n:Scene|Persona|Facet) RETURN count(n) AS n") == [{"n": 0}]
