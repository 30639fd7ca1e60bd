"""Orders: what a race asks for the coming turn, checked when given and applied by the turn.

An order is checked twice. When the race gives it (`check_orders`), against
the state it sees, so it learns at once what is wrong; and when the turn
applies it, against the state of that moment (a group may have died in the
battle before it could leave): a failure then becomes one of the race's
`mistakes`, shown in its next report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from galaxy.engine import rules
from galaxy.engine.model import CARGO_KINDS, PRODUCTS, Game, Group, Race, ShipType

MAX_ORDERS = 1000
MAX_SHIP_TYPES = 100
MAX_NAME = 40


@dataclass(frozen=True)
class Verdict:
    index: int
    accepted: bool
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "index": self.index,
            "status": "accepted" if self.accepted else "rejected",
        }
        if self.reason:
            body["reason"] = self.reason
        return body


def check_orders(game: Game, race: Race, orders: list[Any]) -> list[Verdict]:
    """Judge each order against the current state; designs count for later orders."""
    designs = dict(race.ship_types)
    verdicts = []
    for index, order in enumerate(orders):
        reason = problem(game, race, order, designs)
        if reason is None and order["op"] == "design":
            designs[order["name"]] = ship_type(order)
        verdicts.append(Verdict(index, reason is None, reason))
    return verdicts


def problem(game: Game, race: Race, order: Any, designs: dict[str, ShipType]) -> str | None:
    """Why `order` cannot be carried out now, or None."""
    if not isinstance(order, dict) or not isinstance(order.get("op"), str):
        return "an order is an object with an op"
    check = _CHECKS.get(order["op"])
    if check is None:
        return f"unknown op {order['op']!r}; expected one of {', '.join(_CHECKS)}"
    return check(game, race, order, designs)


def ship_type(order: dict[str, Any]) -> ShipType:
    return ShipType(
        name=order["name"],
        drive=float(order.get("drive", 0)),
        attacks=int(order.get("attacks", 0)),
        weapons=float(order.get("weapons", 0)),
        shields=float(order.get("shields", 0)),
        cargo=float(order.get("cargo", 0)),
    )


def _number(order: dict[str, Any], key: str) -> float | None:
    value = order.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _check_design(
    game: Game, race: Race, order: dict[str, Any], designs: dict[str, ShipType]
) -> str | None:
    name = order.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME or name != name.strip():
        return f"a ship type needs a name of 1 to {MAX_NAME} characters"
    if name in designs:
        return f"ship type {name!r} exists already"
    if len(designs) >= MAX_SHIP_TYPES:
        return f"at most {MAX_SHIP_TYPES} ship types"
    for key in ("drive", "weapons", "shields", "cargo"):
        value = _number(order, key)
        if value is None or not (value == 0 or 1 <= value <= 1000):
            return f"{key} must be 0 or from 1 to 1000"
    attacks = order.get("attacks", 0)
    if isinstance(attacks, bool) or not isinstance(attacks, int) or not 0 <= attacks <= 100:
        return "attacks must be a whole number from 0 to 100"
    weapons = _number(order, "weapons") or 0
    if (attacks == 0) != (weapons == 0):
        return "weapons and attacks go together: both 0, or both at least 1"
    if rules.mass(ship_type(order)) <= 0:
        return "a ship type needs some mass"
    return None


def _own_planet(game: Game, race: Race, raw: Any) -> tuple[Any, str | None]:
    planet = game.planet(raw) if isinstance(raw, int) and not isinstance(raw, bool) else None
    if planet is None:
        return None, f"no planet {raw!r}"
    if planet.owner != race.name:
        return None, f"planet {planet.id} is not yours"
    return planet, None


def _check_produce(
    game: Game, race: Race, order: dict[str, Any], designs: dict[str, ShipType]
) -> str | None:
    _, reason = _own_planet(game, race, order.get("planet"))
    if reason:
        return reason
    what = order.get("what")
    if what not in PRODUCTS:
        return f"what must be one of {', '.join(PRODUCTS)}"
    design = order.get("shipType")
    if what == "ship" and (not isinstance(design, str) or design not in designs):
        return f"no ship type {design!r}; design it first"
    return None


def _own_group(game: Game, race: Race, raw: Any) -> tuple[Group | None, str | None]:
    group = game.group(raw) if isinstance(raw, int) and not isinstance(raw, bool) else None
    if group is None or group.owner != race.name:
        return None, f"you have no group {raw!r}"
    return group, None


def _check_send(
    game: Game, race: Race, order: dict[str, Any], designs: dict[str, ShipType]
) -> str | None:
    group, reason = _own_group(game, race, order.get("group"))
    if group is None:
        return reason
    if group.planet is None:
        return f"group {group.id} is in space; it can be sent on once it arrives"
    target = order.get("to")
    if not isinstance(target, int) or isinstance(target, bool) or game.planet(target) is None:
        return f"no planet {target!r}"
    if target == group.planet:
        return f"group {group.id} is at planet {target} already"
    if race.ship_types[group.ship_type].drive <= 0:
        return f"ship type {group.ship_type!r} has no drive"
    count = order.get("count", group.count)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= group.count:
        return f"count must be from 1 to {group.count}"
    return None


def _check_load(
    game: Game, race: Race, order: dict[str, Any], designs: dict[str, ShipType]
) -> str | None:
    group, reason = _own_group(game, race, order.get("group"))
    if group is None:
        return reason
    if group.planet is None:
        return f"group {group.id} is in space"
    planet = game.planets[group.planet]
    if planet.owner != race.name:
        return f"group {group.id} is not at one of your planets"
    kind = order.get("cargo")
    if kind not in CARGO_KINDS:
        return f"cargo must be one of {', '.join(CARGO_KINDS)}"
    if race.ship_types[group.ship_type].cargo <= 0:
        return f"ship type {group.ship_type!r} has no cargo hold"
    if group.cargo_kind not in (None, kind):
        return f"group {group.id} carries {group.cargo_kind}; unload it first"
    amount = _number(order, "amount") if "amount" in order else 0.0
    if amount is None or amount < 0:
        return "amount must be a positive number"
    return None


def _check_unload(
    game: Game, race: Race, order: dict[str, Any], designs: dict[str, ShipType]
) -> str | None:
    group, reason = _own_group(game, race, order.get("group"))
    if group is None:
        return reason
    if group.planet is None:
        return f"group {group.id} is in space"
    if group.cargo_kind is None or group.cargo <= 0:
        return f"group {group.id} carries nothing"
    planet = game.planets[group.planet]
    if planet.owner not in (None, race.name):
        return f"planet {planet.id} belongs to {planet.owner}"
    if planet.owner is None and group.cargo_kind != "colonists":
        return "only colonists can be unloaded on an uninhabited planet"
    amount = _number(order, "amount") if "amount" in order else 0.0
    if amount is None or amount < 0:
        return "amount must be a positive number"
    return None


_CHECKS = {
    "design": _check_design,
    "produce": _check_produce,
    "send": _check_send,
    "load": _check_load,
    "unload": _check_unload,
}


# -- applying (called by the turn, phase by phase) -----------------------------


def apply(game: Game, ops: tuple[str, ...]) -> None:
    """Carry out every race's orders of these ops, in the order given."""
    for race in game.active_races():
        for index, order in enumerate(race.orders):
            if order.get("op") not in ops:
                continue
            reason = problem(game, race, order, race.ship_types)
            if reason is not None:
                race.mistakes.append({"index": index, "order": order, "reason": reason})
                continue
            _APPLY[order["op"]](game, race, order)


def _apply_design(game: Game, race: Race, order: dict[str, Any]) -> None:
    race.ship_types[order["name"]] = ship_type(order)


def _apply_produce(game: Game, race: Race, order: dict[str, Any]) -> None:
    planet = game.planets[order["planet"]]
    ship = order.get("shipType") if order["what"] == "ship" else None
    if (planet.producing, planet.ship_type) != (order["what"], ship):
        planet.producing = order["what"]
        planet.ship_type = ship
        planet.progress = 0.0  # a change of product loses what was under way


def _apply_send(game: Game, race: Race, order: dict[str, Any]) -> None:
    group = game.group(order["group"])
    assert group is not None and group.planet is not None
    count = order.get("count", group.count)
    if count < group.count:
        share = group.cargo * count / group.count
        group.count -= count
        group.cargo -= share
        group = game.new_group(
            owner=group.owner,
            ship_type=group.ship_type,
            count=count,
            x=group.x,
            y=group.y,
            planet=group.planet,
            cargo_kind=group.cargo_kind if share > 0 else None,
            cargo=share,
        )
    group.origin = group.planet
    group.destination = order["to"]
    group.planet = None


def _apply_load(game: Game, race: Race, order: dict[str, Any]) -> None:
    group = game.group(order["group"])
    assert group is not None and group.planet is not None
    planet = game.planets[group.planet]
    ship = race.ship_types[group.ship_type]
    room = rules.capacity(ship, race.tech["cargo"]) * group.count - group.cargo
    kind = order["cargo"]
    wanted = float(order.get("amount") or room)
    amount = max(0.0, min(room, wanted, getattr(planet, kind)))
    setattr(planet, kind, getattr(planet, kind) - amount)
    group.cargo += amount
    group.cargo_kind = kind if group.cargo > 0 else None


def _apply_unload(game: Game, race: Race, order: dict[str, Any]) -> None:
    group = game.group(order["group"])
    assert group is not None and group.planet is not None and group.cargo_kind is not None
    planet = game.planets[group.planet]
    amount = min(group.cargo, float(order.get("amount") or group.cargo))
    kind = group.cargo_kind
    group.cargo -= amount
    if group.cargo <= 1e-9:
        group.cargo, group.cargo_kind = 0.0, None
    if kind == "colonists":
        if planet.owner is None:
            planet.owner = race.name  # unloading colonists claims an uninhabited planet
            planet.producing, planet.ship_type, planet.progress = "materials", None, 0.0
        grown = planet.population + amount * rules.POPULATION_PER_COLONIST
        planet.population = min(planet.size, grown)
        planet.colonists += max(0.0, grown - planet.size) / rules.POPULATION_PER_COLONIST
    else:
        setattr(planet, kind, getattr(planet, kind) + amount)


_APPLY = {
    "design": _apply_design,
    "produce": _apply_produce,
    "send": _apply_send,
    "load": _apply_load,
    "unload": _apply_unload,
}
