"""The Mastodon adapter: webhook payloads in, moderation API calls out."""
