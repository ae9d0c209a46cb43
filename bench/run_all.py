"""Run every benchmark, one after another, and write their sections of bench/RESULTS.md.

    .venv/bin/python bench/run_all.py [--smoke] [--only NAME ...] [--results PATH]

Each benchmark runs as its own process with its defaults (the orchestration benchmark
with ``--profile``); ``make bench`` runs this. With ``--smoke`` every benchmark runs its
tiny-N mode and, unless ``--results`` says otherwise, nothing is written.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"

BENCHMARKS: dict[str, list[str]] = {
    "real_documents": [],
    "orchestration": ["--profile"],
    "dedup": [],
    "scale": [],
    "cancel": [],
    "status_latency": [],
    "results_jsonl": [],
    "parse_quality": [],
}
"""Each benchmark (``bench/<name>.py``) and the options ``run_all`` adds to its defaults."""


def main() -> int:
    """Run the chosen benchmarks; exit 1 if any of them failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny N, nothing written")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), default=None)
    parser.add_argument("--results", type=Path, default=None, help=f"default {RESULTS}")
    arguments = parser.parse_args()
    results = arguments.results or (None if arguments.smoke else RESULTS)
    outcomes: list[tuple[str, int, float]] = []
    for name in arguments.only or BENCHMARKS:
        command = [sys.executable, str(ROOT / "bench" / f"{name}.py"), *BENCHMARKS[name]]
        if arguments.smoke:
            command.append("--smoke")
        if results is not None:
            command += ["--results", str(results)]
        print(f"\n===== {name}: {' '.join(command[1:])}", flush=True)
        started = time.perf_counter()
        returncode = subprocess.run(command, cwd=ROOT, check=False).returncode
        outcomes.append((name, returncode, time.perf_counter() - started))
    print("\n===== summary")
    for name, returncode, seconds in outcomes:
        verdict = "ok" if returncode == 0 else f"FAILED ({returncode})"
        print(f"{name:<16} {verdict:<12} {seconds:6.0f} s")
    if results is not None:
        print(f"results: {results}")
    return 0 if all(returncode == 0 for _, returncode, _ in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
