"""What a race sees: its report for a turn, and the admin status of the game."""

from __future__ import annotations

from typing import Any

from galaxy.engine import rules
from galaxy.engine.model import Game, Group, Planet
from galaxy.engine.turn import race_totals


def status(game: Game) -> dict[str, Any]:
    totals = race_totals(game)
    body: dict[str, Any] = {
        "gameId": game.game_id,
        "turn": game.turn,
        "phase": game.phase,
        "turnLimit": game.settings.turn_limit,
        "races": [
            {
                "name": race.name,
                "playerId": race.player_id,
                "status": race.status,
                "planets": totals[race.name]["planets"],
                "population": round(totals[race.name]["population"], 3),
                "industry": round(totals[race.name]["industry"], 3),
                "tech": {k: round(v, 4) for k, v in race.tech.items()},
                "initialPlanets": int(game.initial[race.name]["planets"]),
                "initialPopulation": game.initial[race.name]["population"],
            }
            for race in sorted(game.races.values(), key=lambda r: r.name)
        ],
    }
    if game.winner is not None:
        body["winner"] = game.winner
    return body


def all_reports(game: Game) -> dict[str, dict[str, Any]]:
    """Every race's report for the game's current turn (banished races get none)."""
    return {
        name: report(game, name)
        for name, race in sorted(game.races.items())
        if race.status != "banished"
    }


def report(game: Game, name: str) -> dict[str, Any]:
    race = game.races[name]
    watched = {g.planet for g in game.groups if g.owner == name and g.planet is not None}
    totals = race_totals(game)
    return {
        "turn": game.turn,
        "phase": game.phase,
        "map": {"width": game.settings.width, "height": game.settings.height, "wrap": "torus"},
        "race": {
            "name": name,
            "status": race.status,
            "tech": {k: round(v, 4) for k, v in race.tech.items()},
            "planets": totals[name]["planets"],
            "population": round(totals[name]["population"], 3),
        },
        "races": [
            {
                "name": other.name,
                "status": other.status,
                "planets": totals[other.name]["planets"],
                "population": round(totals[other.name]["population"], 3),
                "yourStance": race.stances.get(other.name, "war"),
                "theirStance": other.stances.get(name, "war"),
            }
            for other in sorted(game.races.values(), key=lambda r: r.name)
            if other.name != name
        ],
        "shipTypes": [
            {
                "name": ship.name,
                "drive": ship.drive,
                "attacks": ship.attacks,
                "weapons": ship.weapons,
                "shields": ship.shields,
                "cargo": ship.cargo,
                "mass": rules.mass(ship),
            }
            for ship in sorted(race.ship_types.values(), key=lambda s: s.name)
        ],
        "planets": [_planet(p, name, p.id in watched) for p in game.planets],
        "groups": [_own_group(game, g) for g in game.groups if g.owner == name],
        "alienGroups": [
            {
                "id": g.id,
                "owner": g.owner,
                "shipType": g.ship_type,
                "count": g.count,
                "planet": g.planet,
            }
            for g in game.groups
            if g.owner != name and g.planet in watched
        ],
        "battles": [b for b in game.battles if b["planet"] in watched or name in b["ships"]],
        "bombings": [
            b
            for b in game.bombings
            if b["planet"] in watched or name == b["owner"] or name in b["by"]
        ],
        "messages": list(race.delivered),
        "mistakes": list(race.mistakes),
    }


def _planet(planet: Planet, name: str, watched: bool) -> dict[str, Any]:
    place = {"id": planet.id, "x": planet.x, "y": planet.y}
    if planet.owner == name:
        return {
            **place,
            "kind": "local",
            "name": planet.name,
            "size": planet.size,
            "resources": planet.resources,
            "population": round(planet.population, 3),
            "industry": round(planet.industry, 3),
            "capital": round(planet.capital, 3),
            "materials": round(planet.materials, 3),
            "colonists": round(planet.colonists, 3),
            "production": {
                "what": planet.producing,
                "shipType": planet.ship_type,
                "progress": round(planet.progress, 4),
                "amount": round(rules.production(planet.population, planet.industry), 3),
            },
        }
    if not watched:
        return {**place, "kind": "unidentified"}
    if planet.owner is None:
        return {
            **place,
            "kind": "uninhabited",
            "name": planet.name,
            "size": planet.size,
            "resources": planet.resources,
        }
    return {
        **place,
        "kind": "other",
        "name": planet.name,
        "owner": planet.owner,
        "size": planet.size,
        "population": round(planet.population, 3),
        "industry": round(planet.industry, 3),
    }


def _own_group(game: Game, group: Group) -> dict[str, Any]:
    race = game.races[group.owner]
    ship = race.ship_types[group.ship_type]
    load = group.cargo / group.count if group.count else 0.0
    body: dict[str, Any] = {
        "id": group.id,
        "shipType": group.ship_type,
        "count": group.count,
        "planet": group.planet,
        "x": round(group.x, 3),
        "y": round(group.y, 3),
        "cargo": {"kind": group.cargo_kind, "amount": round(group.cargo, 3)},
        "speed": round(rules.speed(ship, race.tech["drive"], race.tech["cargo"], load), 4),
        "origin": group.origin,
        "destination": group.destination,
        "distance": None,
    }
    if group.destination is not None:
        target = game.planets[group.destination]
        s = game.settings
        body["distance"] = round(
            rules.distance(group.x, group.y, target.x, target.y, s.width, s.height), 4
        )
    return body
