"""The Galaxy backend: the consolidated business service of the Galaxy platform."""

# trio-asyncio replaces asyncio.get_running_loop() when it is imported, and
# psycopg binds that function at its own import time: if psycopg came first,
# every connection made through the bridge would fail with "no running event
# loop". Importing it here, before any submodule, fixes the order for good.
import trio_asyncio  # noqa: F401

__version__ = "0.1.0"
