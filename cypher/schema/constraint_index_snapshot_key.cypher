// One IndexSnapshot per tenant: concurrent saves MERGE the same node and take its lock in turn.
CREATE CONSTRAINT index_snapshot_key IF NOT EXISTS
FOR (n:IndexSnapshot) REQUIRE n.group_id IS UNIQUE
