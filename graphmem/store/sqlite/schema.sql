-- The embedded store's tables: every one keyed by (group_id, ...), so that each statement is
-- scoped to one tenant. Run at every open (CREATE ... IF NOT EXISTS); SQLiteStore._migrate
-- brings files written by an earlier graphmem up to it.
CREATE TABLE IF NOT EXISTS conversations (
    group_id TEXT NOT NULL, id TEXT NOT NULL, source_id TEXT NOT NULL, participants TEXT NOT NULL,
    PRIMARY KEY (group_id, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    group_id TEXT NOT NULL, id TEXT NOT NULL, source_id TEXT NOT NULL, conversation_id TEXT NOT NULL,
    seq INTEGER NOT NULL, speaker TEXT NOT NULL, speaker_id TEXT NOT NULL, addressee_id TEXT,
    text TEXT NOT NULL, caption TEXT, ts TEXT NOT NULL, session INTEGER, digest TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages (group_id, conversation_id, seq);
CREATE INDEX IF NOT EXISTS messages_by_ts ON messages (group_id, ts);
CREATE TABLE IF NOT EXISTS entities (
    group_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,
    aliases TEXT NOT NULL DEFAULT '[]', version INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entities_by_name ON entities (group_id, name COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS mentions (
    group_id TEXT NOT NULL, message_id TEXT NOT NULL, entity_id TEXT NOT NULL,
    PRIMARY KEY (group_id, message_id, entity_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS mentions_by_entity ON mentions (group_id, entity_id);
CREATE TABLE IF NOT EXISTS events (
    group_id TEXT NOT NULL, id TEXT NOT NULL, message_id TEXT NOT NULL, predicate TEXT NOT NULL,
    summary TEXT NOT NULL, ts_start TEXT, ts_end TEXT, precision TEXT, place_id TEXT,
    PRIMARY KEY (group_id, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_by_message ON events (group_id, message_id);
CREATE INDEX IF NOT EXISTS events_by_time ON events (group_id, ts_start);
CREATE TABLE IF NOT EXISTS event_participants (
    group_id TEXT NOT NULL, event_id TEXT NOT NULL, entity_id TEXT NOT NULL, role TEXT NOT NULL,
    PRIMARY KEY (group_id, event_id, entity_id, role)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS participants_by_entity ON event_participants (group_id, entity_id);
CREATE TABLE IF NOT EXISTS relations (
    group_id TEXT NOT NULL, id TEXT NOT NULL, subject_id TEXT NOT NULL, object_id TEXT NOT NULL,
    predicate TEXT NOT NULL, fact TEXT NOT NULL, valid_from TEXT, valid_to TEXT, precision TEXT,
    observed_at TEXT NOT NULL, expired_at TEXT, confidence REAL NOT NULL, superseded_by TEXT,
    version INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS relations_by_subject ON relations (group_id, subject_id);
CREATE INDEX IF NOT EXISTS relations_by_object ON relations (group_id, object_id);
CREATE TABLE IF NOT EXISTS relation_sources (
    group_id TEXT NOT NULL, relation_id TEXT NOT NULL, message_id TEXT NOT NULL,
    PRIMARY KEY (group_id, relation_id, message_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS relation_sources_by_message ON relation_sources (group_id, message_id);
CREATE TABLE IF NOT EXISTS scenes (
    group_id TEXT NOT NULL, id TEXT NOT NULL, label TEXT NOT NULL, ts_start TEXT NOT NULL, ts_end TEXT NOT NULL,
    PRIMARY KEY (group_id, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS scene_members (
    group_id TEXT NOT NULL, scene_id TEXT NOT NULL, member_id TEXT NOT NULL, kind TEXT NOT NULL, weight REAL NOT NULL,
    PRIMARY KEY (group_id, scene_id, member_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS scene_members_by_member ON scene_members (group_id, member_id);
CREATE TABLE IF NOT EXISTS scene_links (
    group_id TEXT NOT NULL, scene_id TEXT NOT NULL, kind TEXT NOT NULL, target_id TEXT NOT NULL,
    PRIMARY KEY (group_id, scene_id, kind, target_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS personas (
    group_id TEXT NOT NULL, id TEXT NOT NULL, entity_id TEXT NOT NULL, name TEXT NOT NULL, summary TEXT NOT NULL,
    PRIMARY KEY (group_id, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS facets (
    group_id TEXT NOT NULL, id TEXT NOT NULL, persona_id TEXT NOT NULL, position INTEGER NOT NULL,
    label TEXT NOT NULL, evidence TEXT NOT NULL,
    PRIMARY KEY (group_id, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS facet_facts (
    group_id TEXT NOT NULL, facet_id TEXT NOT NULL, position INTEGER NOT NULL, fact_id TEXT NOT NULL,
    kind TEXT NOT NULL, text TEXT NOT NULL, message_id TEXT NOT NULL, current INTEGER NOT NULL, moved_from TEXT,
    PRIMARY KEY (group_id, facet_id, position)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tenant_versions (
    group_id TEXT NOT NULL PRIMARY KEY, version INTEGER NOT NULL, reset INTEGER NOT NULL) WITHOUT ROWID;
-- A cache of each tenant's query index (graphmem.search.snapshot): derived data, one row per tenant.
CREATE TABLE IF NOT EXISTS index_snapshots (
    group_id TEXT NOT NULL PRIMARY KEY, key TEXT NOT NULL, version INTEGER NOT NULL, data BLOB NOT NULL);
