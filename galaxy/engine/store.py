"""The engine's files: `state.json` and one report file per turn, written atomically.

A write goes to a temporary file, is fsynced, renamed over the old file, and
the directory is fsynced: a process killed at any instant leaves either the
old file or the new one, never a torn one. A turn writes its reports first
and its state last, so the state always names a turn whose reports exist;
an engine killed in between restarts at the last completed turn, and the
orphaned reports of the unfinished turn are overwritten when it runs again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from galaxy.engine.model import Game, from_json, to_json

STATE = "state.json"
REPORTS = "reports"


class StateStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.reports = directory / REPORTS

    def exists(self) -> bool:
        return (self.directory / STATE).exists()

    def load(self) -> Game:
        with (self.directory / STATE).open("rb") as handle:
            return from_json(json.load(handle))

    def save(self, game: Game, reports: dict[str, dict[str, Any]] | None = None) -> None:
        """Reports of `game.turn` (when given), then the state: its turn is always complete."""
        if reports is not None:
            self.save_reports(game.turn, reports)
        self.save_state(game)

    def save_reports(self, turn: int, reports: dict[str, dict[str, Any]]) -> None:
        self.reports.mkdir(parents=True, exist_ok=True)
        _write_atomic(self.reports / _report_file(turn), reports)

    def save_state(self, game: Game) -> None:
        _write_atomic(self.directory / STATE, to_json(game))

    def report(self, turn: int, race: str) -> dict[str, Any] | None:
        path = self.reports / _report_file(turn)
        try:
            with path.open("rb") as handle:
                found: dict[str, Any] | None = json.load(handle).get(race)
        except FileNotFoundError:
            return None
        return found


def _report_file(turn: int) -> str:
    return f"turn-{turn:06d}.json"


def _write_atomic(path: Path, value: Any) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as handle:
        handle.write(json.dumps(value, separators=(",", ":")).encode())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
