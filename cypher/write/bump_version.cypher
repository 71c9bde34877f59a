// The first statement of every write transaction of a tenant: its version goes up by one and
// the TenantVersion node stays write-locked until commit, so a tenant's writers commit in
// version order. Returns the version the transaction stamps on what it writes.
MERGE (v:TenantVersion {group_id: $group_id})
  ON CREATE SET v.version = 0, v.reset = 0
WITH v, v.version + 1 AS next
SET v.version = next
RETURN next AS version
