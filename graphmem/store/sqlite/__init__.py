"""The embedded default store (`store.SQLiteStore`): one SQLite file, no server."""
