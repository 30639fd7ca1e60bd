"""Benchmark servers run in processes of their own and announce themselves as a JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def announced_server(module: str, *args: str, key: str) -> Iterator[dict[str, Any]]:
    """Start `python -m module args…`; yield the first stdout JSON object that has `key`."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            announced = json.loads(line)
            if key in announced:  # log lines may come first
                yield announced
                return
        raise RuntimeError(f"{module} {' '.join(args)} exited before listening")
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
