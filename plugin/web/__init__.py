"""The web side: the app factory, blueprints, authentication and error mapping."""
