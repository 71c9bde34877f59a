// Conversations of a batch. Setting a property write-locks the node, so concurrent writers of
// one conversation take turns (its NEXT chain is then rebuilt by one writer at a time).
// $rows: [{id, source_id, participants}]
UNWIND $rows AS row
MERGE (c:Conversation {group_id: $group_id, id: row.id})
SET c.source_id = row.source_id,
    c.participants = row.participants
