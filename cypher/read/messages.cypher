// Messages of a tenant written after version $since (-1: all), or of one conversation when
// $conversation_id is not null; in conversation order, or in write order (version first) when
// $in_write_order.
MATCH (m:Message {group_id: $group_id})
WHERE m.version > $since AND ($conversation_id IS NULL OR m.conversation_id = $conversation_id)
RETURN m.id AS id, m.source_id AS source_id, m.conversation_id AS conversation_id, m.seq AS seq,
       m.speaker AS speaker, m.speaker_id AS speaker_id, m.text AS text, m.ts AS ts,
       m.session AS session, m.caption AS caption, m.addressee_id AS addressee_id,
       m.digest AS digest
ORDER BY CASE WHEN $in_write_order THEN m.version ELSE 0 END, conversation_id, seq
