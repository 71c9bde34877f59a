// Every tenant that holds messages (read from the message_group index).
MATCH (m:Message)
WHERE m.group_id IS NOT NULL
RETURN DISTINCT m.group_id AS group_id
ORDER BY group_id
