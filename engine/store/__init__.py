"""Tables, database sessions, settings, typed errors, and the Alembic migrations that shape the schema.

Imports only engine.calendar.
"""
