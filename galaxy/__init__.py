"""The Galaxy backend: the consolidated business service of the Galaxy platform."""

# trio-asyncio replaces asyncio.get_running_loop() when it is imported, and
# psycopg binds that function at its own import time: if psycopg came first,
# a psycopg connection on the trio-asyncio loop would fail with "no running
# event loop". galaxy's store drives psycopg from trio (store/trio_psycopg.py)
# and needs no such loop, but importing it here, before any submodule, keeps
# any asyncio-side psycopg in a galaxy process working.
import trio_asyncio  # noqa: F401

__version__ = "0.1.0"
