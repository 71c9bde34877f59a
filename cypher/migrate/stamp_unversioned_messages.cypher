// Messages written before graphmem stamped versions get version 0, so reads with $since see them.
MATCH (n:Message) WHERE n.version IS NULL
SET n.version = 0
