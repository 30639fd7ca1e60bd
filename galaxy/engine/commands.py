"""Immediate commands: diplomacy, names and messages; all or nothing."""

from __future__ import annotations

from typing import Any

from galaxy.engine.model import PEACE, WAR, Game, Race
from galaxy.engine.orders import MAX_NAME, Verdict

MAX_COMMANDS = 100
MAX_MESSAGE = 2000


def check_commands(game: Game, race: Race, commands: list[Any]) -> list[Verdict]:
    verdicts = []
    for index, command in enumerate(commands):
        reason = _problem(game, race, command)
        verdicts.append(Verdict(index, reason is None, reason))
    return verdicts


def apply_commands(game: Game, race: Race, commands: list[dict[str, Any]]) -> None:
    """Carry out commands that `check_commands` accepted, in order."""
    for command in commands:
        op = command["op"]
        if op == "declare":
            race.stances[command["race"]] = command["stance"]
        elif op == "renamePlanet":
            game.planets[command["planet"]].name = command["name"]
        elif op == "renameShipType":
            _rename_ship_type(game, race, command["from"], command["to"])
        elif op == "message":
            game.races[command["to"]].inbox.append(
                {"from": race.name, "turn": game.turn, "text": command["text"]}
            )


def _rename_ship_type(game: Game, race: Race, old: str, new: str) -> None:
    ship = race.ship_types.pop(old)
    ship.name = new
    race.ship_types[new] = ship
    for group in game.groups:
        if group.owner == race.name and group.ship_type == old:
            group.ship_type = new
    for planet in game.planets:
        if planet.owner == race.name and planet.ship_type == old:
            planet.ship_type = new


def _name(raw: Any) -> bool:
    return isinstance(raw, str) and 1 <= len(raw) <= MAX_NAME and raw == raw.strip()


def _race_name(raw: Any) -> str | None:
    """A race name as text, or None: a list or an object is no name (nor a dict key)."""
    return raw if isinstance(raw, str) else None


def _planet_id(raw: Any) -> int | None:
    """A planet id as a whole number: `true` is not planet 1."""
    return raw if isinstance(raw, int) and not isinstance(raw, bool) else None


def _problem(game: Game, race: Race, command: Any) -> str | None:
    if not isinstance(command, dict) or not isinstance(command.get("op"), str):
        return "a command is an object with an op"
    op = command["op"]
    named = command.get("race") if op == "declare" else command.get("to")
    other = _race_name(named)
    if op == "declare":
        if other not in game.races or other == race.name:
            return f"no other race {named!r}"
        if command.get("stance") not in (WAR, PEACE):
            return "stance must be war or peace"
        return None
    if op == "renamePlanet":
        planet_id = _planet_id(command.get("planet"))
        planet = game.planet(planet_id) if planet_id is not None else None
        if planet is None or planet.owner != race.name:
            return f"you have no planet {command.get('planet')!r}"
        return None if _name(command.get("name")) else f"a name has 1 to {MAX_NAME} characters"
    if op == "renameShipType":
        old = command.get("from")
        if not isinstance(old, str) or old not in race.ship_types:
            return f"you have no ship type {old!r}"
        new = command.get("to")
        if not _name(new):
            return f"a name has 1 to {MAX_NAME} characters"
        return f"ship type {new!r} exists already" if new in race.ship_types else None
    if op == "message":
        if other not in game.races or other == race.name:
            return f"no other race {named!r}"
        text = command.get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= MAX_MESSAGE:
            return f"text must be 1 to {MAX_MESSAGE} characters"
        return None
    return f"unknown op {op!r}; expected declare, renamePlanet, renameShipType or message"
