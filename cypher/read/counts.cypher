// How many records a tenant holds, per kind.
CALL () { MATCH (n:Conversation {group_id: $group_id}) RETURN count(n) AS conversations }
CALL () { MATCH (n:Message {group_id: $group_id}) RETURN count(n) AS messages }
CALL () { MATCH (n:Entity {group_id: $group_id}) RETURN count(n) AS entities }
CALL () { MATCH (n:Event {group_id: $group_id}) RETURN count(n) AS events }
CALL () { MATCH ()-[r:RELATES {group_id: $group_id}]->() RETURN count(r) AS facts }
RETURN conversations, messages, entities, events, facts
