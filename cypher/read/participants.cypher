// The participant names of every conversation of a tenant.
MATCH (c:Conversation {group_id: $group_id})
RETURN c.participants AS participants
