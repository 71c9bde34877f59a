// New positions of a conversation's stored messages (after messages before them were removed or
// inserted); link_turns then rechains NEXT.
// $rows: [{id, seq}], sorted by id.
UNWIND $rows AS row
MATCH (m:Message {group_id: $group_id, id: row.id}) USING INDEX m:Message(group_id, id)
WITH m, row WHERE m.seq <> row.seq
SET m.seq = row.seq
