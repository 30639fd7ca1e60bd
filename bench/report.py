"""Collects benchmark rows and prints them (and writes docs/benchmarks.md)."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

# Everything in docs/benchmarks.md from this line on survives `make bench`.
HISTORY = "<!-- history: kept by make bench -->"


@dataclass(frozen=True)
class Row:
    benchmark: str
    value: float
    unit: str
    floor_name: str
    floor_value: float

    @property
    def ratio(self) -> float:
        return self.value / self.floor_value if self.floor_value else float("nan")


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print(
            f"{row.benchmark:<46} {row.value:>12,.1f} {row.unit:<10}"
            f" floor {row.floor_name}: {row.floor_value:,.1f}  ratio {row.ratio:.2f}",
            flush=True,
        )

    def markdown(self) -> str:
        cpu = _cpu_model()
        lines = [
            "# Benchmarks",
            "",
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {cpu}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, by `make bench`. Each figure is compared with a "
            "floor measured in the same run; the ratio is what to watch, not the absolute number.",
            "",
            "| benchmark | value | unit | floor | floor value | ratio |",
            "|---|---:|---|---|---:|---:|",
        ]
        for row in self.rows:
            lines.append(
                f"| {row.benchmark} | {row.value:,.1f} | {row.unit} | {row.floor_name} "
                f"| {row.floor_value:,.1f} | {row.ratio:.2f} |"
            )
        return "\n".join(lines) + "\n"

    def write(self, path: Path) -> None:
        """Write the table, keeping what follows `HISTORY` in the file as it is: the
        before/after records of earlier changes are written by hand, once."""
        kept = ""
        if path.exists():
            _, marker, after = path.read_text().partition(HISTORY)
            kept = marker + after
        path.write_text(self.markdown() + ("\n" + kept if kept else ""))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
