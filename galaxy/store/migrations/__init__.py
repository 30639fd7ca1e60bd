"""Numbered, forward-only SQL migrations (`NNNN_name.sql`), applied by galaxy.store.migrate."""
