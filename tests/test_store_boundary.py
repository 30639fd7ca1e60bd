"""SQL only in `galaxy/store/` (docs/architecture.md, "Store"): services and actors call
store verbs with a connection; they do not write, hold or execute SQL.

The test reads every module outside `galaxy/store/` and fails on:
- a call of `.execute(`, `.executemany(` or `.cursor(` (a statement run by hand),
  or of `.fetchone(`/`.fetchall(` (reading a cursor one got that way);
- the store's raw helpers (`fetch_one`, `fetch_all`, `fetch_count`, `fetch_page`), which
  take SQL text;
- a query constant of a store module (an UPPER_CASE name, imported or reached through
  the module);
- a string literal that is a statement (`SELECT … FROM`, `INSERT INTO`, `UPDATE … SET`,
  `DELETE FROM`).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

GALAXY = Path(__file__).resolve().parents[1] / "galaxy"

# Bootstraps the database before any pool or schema exists (CREATE DATABASE on the
# embedded server, with a synchronous connection of its own): it stays as it is.
BOOTSTRAP = frozenset({"galaxy.embedded.postgres"})

RAW_CALLS = frozenset({"execute", "executemany", "cursor", "fetchone", "fetchall"})
RAW_HELPERS = frozenset({"fetch_one", "fetch_all", "fetch_count", "fetch_page"})
QUERY_NAME = re.compile(r"^_?[A-Z][A-Z0-9_]*$")
STATEMENT = re.compile(
    r"^\s*(SELECT\b.*\bFROM\b|INSERT\s+INTO\b|UPDATE\s+\w+\s+SET\b|DELETE\s+FROM\b)",
    re.DOTALL,
)


def modules() -> dict[str, Path]:
    found = {}
    for path in GALAXY.rglob("*.py"):
        relative = path.relative_to(GALAXY.parent).with_suffix("")
        name = ".".join(relative.parts).removesuffix(".__init__")
        if name == "galaxy.store" or name.startswith(("galaxy.store.", "galaxy.proto")):
            continue
        found[name] = path
    return found


def _store_module(name: str) -> bool:
    return name.startswith("galaxy.store.")


def violations(source: str) -> list[str]:
    tree = ast.parse(source)
    found: list[str] = []
    aliases: set[str] = set()  # names bound to a store module (`from galaxy.store import x`)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                bound = alias.asname or alias.name
                if node.module == "galaxy.store":
                    aliases.add(bound)
                elif _store_module(node.module):
                    if alias.name in RAW_HELPERS:
                        found.append(f"line {node.lineno}: imports {alias.name}")
                    elif QUERY_NAME.match(alias.name):
                        found.append(f"line {node.lineno}: imports the query {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _store_module(alias.name) and alias.asname:
                    aliases.add(alias.asname)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in RAW_CALLS:
                found.append(f"line {node.lineno}: calls .{node.func.attr}(")
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and QUERY_NAME.match(node.attr)
        ):
            found.append(f"line {node.lineno}: uses the query {node.value.id}.{node.attr}")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and STATEMENT.match(node.value)
        ):
            found.append(f"line {node.lineno}: holds SQL {node.value.strip()[:40]!r}")
    return found


def test_sql_lives_only_in_the_store() -> None:
    offenders = {
        name: found
        for name, path in sorted(modules().items())
        if name not in BOOTSTRAP and (found := violations(path.read_text()))
    }
    assert offenders == {}


def test_the_checker_sees_what_it_forbids() -> None:
    """The rule is only as good as its reader: each kind of violation is caught."""
    source = """
from galaxy.store import lobby as queries
from galaxy.store.database import fetch_one
from galaxy.store.lobby import GET_GAME

async def f(conn):
    await conn.execute(queries.SET_STATUS, {})
    async with conn.cursor() as c:
        pass
    return "SELECT 1 FROM games"
"""
    found = "\n".join(violations(source))
    for expected in (
        "imports fetch_one",
        "imports the query GET_GAME",
        "calls .execute(",
        "calls .cursor(",
        "uses the query queries.SET_STATUS",
        "holds SQL",
    ):
        assert expected in found, (expected, found)


def test_the_bootstrap_exception_is_still_needed() -> None:
    """An allowed module that follows the rule now comes off the list."""
    known = modules()
    listed = BOOTSTRAP
    clean = sorted(n for n in listed if n in known and not violations(known[n].read_text()))
    missing = sorted(n for n in listed if n not in known)
    assert (clean, missing) == ([], [])
