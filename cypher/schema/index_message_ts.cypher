// Time-bounded message lookups.
CREATE RANGE INDEX message_ts IF NOT EXISTS
FOR (n:Message) ON (n.ts)
