"""`make bench`: every benchmark, then docs/benchmarks.md.

`python -m bench http burst` runs only the parts named (in the order given)
and prints their rows without writing docs/benchmarks.md, whose table is
always a whole run's.
"""

import sys
from collections.abc import Callable
from pathlib import Path

from bench import (
    actors_bench,
    burst_bench,
    cluster_bench,
    db_bench,
    engine_bench,
    http_bench,
    mail_bench,
    push_bench,
    runtime_bench,
)
from bench.report import Report

PARTS: dict[str, Callable[[Report], None]] = {
    "actors": actors_bench.run,
    "db": db_bench.run,
    "http": http_bench.run,
    "push": push_bench.run,
    "mail": mail_bench.run,
    "engine": engine_bench.run,
    "runtime": runtime_bench.run,
    "burst": burst_bench.run,
    "cluster": cluster_bench.run,
}


def main(names: list[str]) -> None:
    unknown = [name for name in names if name not in PARTS]
    if unknown:
        sys.exit(f"unknown benchmark part(s) {unknown}: choose from {sorted(PARTS)}")
    report = Report()
    for name in names or list(PARTS):
        PARTS[name](report)
    if names:
        return
    target = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
    report.write(target)
    print(f"wrote {target}")


main(sys.argv[1:])
