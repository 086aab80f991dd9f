"""Warm `drill up` and `drill down` times: median of N (default 3).

Run with the images already built (`drill images`):  .venv/bin/python bench/updown.py [N]
Prints a table; numbers go into the README with the machine they were taken on.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "chaos", "-q", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"drill {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return time.monotonic() - started


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with tempfile.TemporaryDirectory(prefix="bench-updown-") as state:
        env = {**os.environ, "DRILL_STATE_DIR": state}
        timed(["images"], env)
        ups, downs = [], []
        for i in range(rounds):
            ups.append(timed(["up"], env))
            downs.append(timed(["down"], env))
            print(f"round {i + 1}: up {ups[-1]:.1f} s, down {downs[-1]:.1f} s", flush=True)
    print(f"\n{'step':<6}{'median':>9}{'min':>8}{'max':>8}   (n={rounds}, {os.cpu_count()} cores)")
    for name, values in (("up", ups), ("down", downs)):
        print(f"{name:<6}{statistics.median(values):>8.1f}s{min(values):>7.1f}s{max(values):>7.1f}s")


if __name__ == "__main__":
    main()
