"""The Neo4j store (`store.Neo4jStore`) and the named Cypher statements it runs (`cypher`)."""
