// The first statement of a delta read (`changes`): waits for the tenant's writers to finish. A
// no-op SET write-locks the TenantVersion node, and every writer holds that lock from its first
// statement (write/bump_version) until its commit is fully applied, indexes included; so the
// version returned here is one whose records are all visible to the reads that follow. Without
// it, a read can see a writer's new version before that writer's messages are visible through
// the index the reads use, and an index would claim a version without its turns.
MATCH (v:TenantVersion {group_id: $group_id})
SET v.version = v.version
RETURN v.version AS version, v.reset AS reset
