// Time-bounded event lookups.
CREATE RANGE INDEX event_ts_start IF NOT EXISTS
FOR (n:Event) ON (n.ts_start)
