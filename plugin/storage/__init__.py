"""Storage: SQLAlchemy models, the database handle, migrations and the narrow stores."""
