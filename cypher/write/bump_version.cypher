// The first statement of every write transaction of a tenant: its version goes up by one and
// the TenantVersion node stays write-locked until commit, so a tenant's writers commit in
// version order. Returns the version the transaction stamps on what it writes. The increment
// reads the property inside SET itself: only then does Cypher take the write lock before the
// read (a value computed earlier, e.g. in a WITH, is read unlocked, and two concurrent writers
// would both stamp the same version: a lost update that readers never catch up on).
MERGE (v:TenantVersion {group_id: $group_id})
  ON CREATE SET v.version = 0, v.reset = 0
SET v.version = v.version + 1
RETURN v.version AS version
