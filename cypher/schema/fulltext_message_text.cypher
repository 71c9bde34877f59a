// Full-text search over what was said (and the captions of shared images).
CREATE FULLTEXT INDEX message_text IF NOT EXISTS
FOR (n:Message) ON EACH [n.text, n.caption]
