// Every Scene of a tenant, with its links (HAS_MEMBER, INVOLVES, SHOWS); write_scenes writes
// the new ones after it, in the same transaction.
MATCH (s:Scene {group_id: $group_id})
DETACH DELETE s
