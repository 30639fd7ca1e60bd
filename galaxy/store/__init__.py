"""Persistence: the psycopg pool behind the trio→asyncio bridge, migrations, named queries."""
