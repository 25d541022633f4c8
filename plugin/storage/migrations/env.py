"""Alembic environment: runs against the engine handed over by ``Database.migrate``."""

from alembic import context

from plugin.storage.models import Base

engine = context.config.attributes.get("engine")
if engine is None:  # `alembic` CLI use: build one from the settings
    from plugin.settings import Settings
    from plugin.storage.database import Database

    engine = Database(Settings.from_env().sqlalchemy_url).engine

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
