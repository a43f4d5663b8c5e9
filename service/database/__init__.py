"""Where visitors' and the owner's writes live: SQLite files by default, PostgreSQL with
``KB_DATABASE_URL``; one schema (``tables``) and one set of Alembic migrations for both."""
