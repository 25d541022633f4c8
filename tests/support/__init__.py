"""Real servers for the tests: PostgreSQL, a media server, a Mastodon-API server."""
