// One TenantVersion per tenant: concurrent first writes of a tenant MERGE the same node, and
// every write transaction of the tenant locks it (write/bump_version), so versions follow commits.
CREATE CONSTRAINT tenant_version_key IF NOT EXISTS
FOR (n:TenantVersion) REQUIRE n.group_id IS UNIQUE
