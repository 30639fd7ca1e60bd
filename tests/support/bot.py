"""A simple scripted player: colonise outward, build warships, attack what it sees.

Deterministic: it decides from its report alone, in a fixed order.
"""

from __future__ import annotations

import math
from typing import Any

ARK = {"op": "design", "name": "Ark", "drive": 2, "cargo": 3}
WARSHIP = {"op": "design", "name": "Warship", "drive": 2, "attacks": 1, "weapons": 3, "shields": 2}


def _distance(a: dict[str, Any], b: dict[str, Any], width: float, height: float) -> float:
    dx = abs(a["x"] - b["x"]) % width
    dy = abs(a["y"] - b["y"]) % height
    return math.hypot(min(dx, width - dx), min(dy, height - dy))


def orders(report: dict[str, Any]) -> list[dict[str, Any]]:
    turn = report["turn"]
    width, height = report["map"]["width"], report["map"]["height"]
    planets = {p["id"]: p for p in report["planets"]}
    mine = [p for p in report["planets"] if p["kind"] == "local"]
    if not mine:
        return []
    given: list[dict[str, Any]] = []
    types = {t["name"] for t in report["shipTypes"]}
    given += [d for d in (ARK, WARSHIP) if d["name"] not in types]
    home = max(mine, key=lambda p: (p["population"], -p["id"]))
    build = "Warship" if turn % 3 == 2 else "Ark"
    given.append({"op": "produce", "planet": home["id"], "what": "ship", "shipType": build})
    for planet in mine:
        if planet["id"] != home["id"] and planet["population"] > 0:
            what = "capital" if planet["industry"] < planet["population"] else "drive"
            given.append({"op": "produce", "planet": planet["id"], "what": what})

    targeted = {g["destination"] for g in report["groups"] if g["destination"] is not None}

    def nearest(start: dict[str, Any], kinds: tuple[str, ...]) -> dict[str, Any] | None:
        options = [p for p in report["planets"] if p["kind"] in kinds and p["id"] not in targeted]
        if not options:
            return None
        return min(options, key=lambda p: (_distance(start, p, width, height), p["id"]))

    for group in report["groups"]:
        if group["planet"] is None:
            continue
        here = planets[group["planet"]]
        cargo = group["cargo"]
        if group["shipType"] == "Ark":
            if cargo["kind"] == "colonists" and here["kind"] == "uninhabited":
                given.append({"op": "unload", "group": group["id"]})
            elif cargo["kind"] is None and here["kind"] == "local" and here["colonists"] >= 1:
                target = nearest(here, ("unidentified", "uninhabited"))
                if target is not None:
                    targeted.add(target["id"])
                    given.append({"op": "load", "group": group["id"], "cargo": "colonists"})
                    given.append({"op": "send", "group": group["id"], "to": target["id"]})
            elif cargo["kind"] == "colonists" and here["kind"] != "uninhabited":
                target = nearest(here, ("unidentified", "uninhabited"))
                if target is not None:
                    targeted.add(target["id"])
                    given.append({"op": "send", "group": group["id"], "to": target["id"]})
        elif group["shipType"] == "Warship" and group["count"] >= 3 and here["kind"] == "local":
            target = nearest(here, ("other",)) or nearest(here, ("unidentified",))
            if target is not None:
                targeted.add(target["id"])
                given.append({"op": "send", "group": group["id"], "to": target["id"]})
    return given
