"""`make bench`: every benchmark, then docs/benchmarks.md."""

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


def main() -> None:
    report = Report()
    actors_bench.run(report)
    db_bench.run(report)
    http_bench.run(report)
    push_bench.run(report)
    mail_bench.run(report)
    engine_bench.run(report)
    runtime_bench.run(report)
    burst_bench.run(report)
    cluster_bench.run(report)
    target = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
    report.write(target)
    print(f"wrote {target}")


main()
