"""`to_json` gives what `dataclasses.asdict` gives, for every shape a view takes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import NamedTuple

from galaxy.http.views.base import to_json


@dataclass(frozen=True, slots=True)
class Leaf:
    name: str
    count: int
    share: float
    flag: bool
    missing: None = None


class Point(NamedTuple):
    x: int
    leaf: Leaf


@dataclass(frozen=True)
class Tree:
    title: str
    leaf: Leaf
    leaves: list[Leaf]
    pair: tuple[int, Leaf]
    payload: dict[str, object] = field(default_factory=dict)
    maybe: Leaf | None = None
    point: Point | None = None


def sample() -> Tree:
    leaf = Leaf("a", 1, 0.5, True)
    return Tree(
        title="t",
        leaf=leaf,
        leaves=[leaf, Leaf("b", 2, 1.5, False)],
        pair=(3, leaf),
        payload={"nested": {"list": [1, "x", None]}, "leaf": leaf},
        point=Point(1, leaf),
    )


def test_to_json_equals_asdict_on_nested_views() -> None:
    view = sample()
    assert to_json(view) == dataclasses.asdict(view)
    assert type(to_json(view)["pair"]) is tuple  # as asdict: a tuple stays a tuple


def test_to_json_shares_no_container_with_the_view() -> None:
    view = sample()
    found = to_json(view)
    found["leaves"].append("changed")  # type: ignore[attr-defined]
    found["payload"]["nested"]["list"].append("changed")  # type: ignore[index]
    assert len(view.leaves) == 2
    assert view.payload == sample().payload
