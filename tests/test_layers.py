"""The layer rule (docs/architecture.md, "Layout"): imports run one way, down.

    app, cli → edges (http, push), core, embedded → services → store, clients
    → config, telemetry → kernel (actors), bridge, tls → domain, logging

A module may import its own package and anything of a lower layer, never a
higher one. The test reads every module's imports (lazy ones inside functions
too), so a shortcut up the layers fails here, not in review.
"""

from __future__ import annotations

import ast
from pathlib import Path

GALAXY = Path(__file__).resolve().parents[1] / "galaxy"

LAYERS = {
    "domain": 0,
    "logging": 0,
    "proto": 0,  # generated protobuf code
    "actors": 1,  # the kernel: it knows nothing of the application
    "bridge": 1,
    "tls": 1,
    "heap": 1,  # the process's garbage collector, settled once ready
    "config": 2,
    "telemetry": 2,
    "store": 3,
    "clients": 3,
    "engine": 3,  # a program of its own: domain only
    "services": 4,
    "core": 5,
    "http": 5,
    "push": 5,
    "embedded": 5,
    "app": 6,
    "tree": 6,  # the actor tree, declared once; app runs it
    "cli": 7,
    "__main__": 8,
    "proto_codegen": 8,
}


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def modules() -> dict[str, Path]:
    found = {}
    for path in GALAXY.rglob("*.py"):
        relative = path.relative_to(GALAXY.parent).with_suffix("")
        name = ".".join(relative.parts).removesuffix(".__init__")
        found[name] = path
    return found


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("galaxy."):
                names.add(node.module)
                # `from galaxy.store import race_names` names a module too
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("galaxy."))
    return names


def test_every_package_has_a_layer() -> None:
    layers = {layer_of(name) for name in modules()} - {"__init__"}
    assert layers <= set(LAYERS), layers - set(LAYERS)


def test_imports_run_down_the_layers() -> None:
    known = modules()
    upward = []
    for name, path in known.items():
        if name.startswith("galaxy.proto"):
            continue
        mine = layer_of(name)
        for imported in imports(path):
            if imported not in known:
                continue
            theirs = layer_of(imported)
            if theirs != mine and LAYERS.get(theirs, 0) > LAYERS.get(mine, 0):
                upward.append(f"{name} ({mine}) imports {imported} ({theirs})")
    assert upward == []


def test_the_kernel_imports_nothing_of_the_application() -> None:
    """Not even the domain: its errors, its backoff and what counts as an answer are
    its own or given to it (`ActorSystem(answers=..., unavailable=...)`)."""
    for name, path in modules().items():
        if layer_of(name) != "actors":
            continue
        foreign = {i for i in imports(path) if not i.startswith("galaxy.actors")}
        assert foreign == set(), (name, foreign)
