// The last stored turn (highest seq) of each of these conversations of a tenant (null: none),
// to tell whether a batch only appends turns.
// $conversation_ids: conversation ids as the input gave them.
UNWIND $conversation_ids AS conversation_id
OPTIONAL MATCH (m:Message {group_id: $group_id, conversation_id: conversation_id})
RETURN conversation_id, max(m.seq) AS last_seq
