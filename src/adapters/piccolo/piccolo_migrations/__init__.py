"""Committed migrations of the `token_log` Piccolo app; apply them with `adapters.piccolo.migrate`."""
