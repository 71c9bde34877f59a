// Relations written before graphmem stamped versions get version 0, so reads with $since see them.
MATCH ()-[r:RELATES]->() WHERE r.version IS NULL
SET r.version = 0
