"""Persistence: psycopg driven by trio (a trio connection pool), migrations, named queries."""
