"""The tree declared in galaxy/tree.py is the tree that runs, and the one the docs draw."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from galaxy.actors import ActorSnapshot
from galaxy.tree import Node
from tests.conftest import Running

DOCS = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"

EVERY_PART = {
    # every optional node switched on: the embedded sink (no SMTP host), the translator,
    # the Prometheus listener, and two mail workers
    "BACKEND_DIPLOMAIL_TRANSLATOR_URL": "http://127.0.0.1:9/translate",
    "BACKEND_OTEL_METRICS_EXPORTER": "prometheus",
    "BACKEND_MAIL_WORKERS": "2",
}


def running_shape(snapshot: ActorSnapshot, declared: Node) -> dict[str, Any]:
    """The running node seen through the declared one: the same keys, statics only."""
    shape: dict[str, Any] = {"name": snapshot.name, "kind": snapshot.kind}
    if declared.supervision is not None:
        for key in ("strategy", "max_restarts", "within_seconds"):
            shape[key] = snapshot.details.get(key)
    by_name = {child.name: child for child in declared.children}
    shape["children"] = [
        running_shape(child, by_name[child.name]) if child.name in by_name else child.name
        for child in snapshot.children
        if declared.spawned is None  # children added at run time are not declared
    ]
    return shape


def declared_tree(running: Running) -> Node:
    assert running.service.tree is not None
    return running.service.tree


@pytest.mark.parametrize("running", [EVERY_PART, {}], indirect=True, ids=["every part", "default"])
async def test_the_running_tree_is_the_declared_tree(running: Running) -> None:
    declared = declared_tree(running)
    snapshot = running.service.system.snapshot()
    assert snapshot is not None
    assert running_shape(snapshot, declared) == declared.shape()


@pytest.mark.parametrize("running", [EVERY_PART], indirect=True)
async def test_the_architecture_drawing_names_every_node(running: Running) -> None:
    drawing = DOCS.read_text("utf-8").split("```", 2)[1]
    drawn = {
        match.group(1)
        for line in drawing.splitlines()
        if (match := re.match(r"^[\s│├└─]*([\w.:<>]+)", line)) and match.group(1)
    }
    declared = {re.sub(r"\.\d+$", ".<n>", name) for name in declared_tree(running).names()}
    assert drawn == declared
