"""The durable token log on PostgreSQL or SQLite, with Piccolo (engines, tables, migrations)."""
