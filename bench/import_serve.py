"""What a web worker pays to import, before and after its stop-signal fix.

granian and gunicorn import ``feedsmith.serve.worker`` in every worker, then call ``wsgi_app``,
which makes stop signals work and only then imports the web app. Prints the median wall time of
importing each module in a fresh interpreter (and how many modules it loads), so the cost of
the deferred import is a figure rather than a claim. It asserts nothing.

    python bench/import_serve.py            # 5 runs each
    python bench/import_serve.py --runs 9
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

MODULES = (
    "feedsmith.serve.worker",  # what a worker imports before the fix
    "feedsmith.serve.app",  # what wsgi_app imports after it
    "feedsmith.serve.server",  # the supervisor (scheduler, pipeline, bucket store)
)

PROBE = (
    "import sys, time; t = time.perf_counter(); import {module}; "
    "print(time.perf_counter() - t, len(sys.modules))"
)


def measure(module: str, runs: int) -> tuple[float, int]:
    seconds: list[float] = []
    loaded = 0
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(module=module)],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout.split()
        seconds.append(float(out[0]))
        loaded = int(out[1])
    return statistics.median(seconds), loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for module in MODULES:
        median, loaded = measure(module, args.runs)
        print(f"{module:28} {median * 1000:8.1f} ms median  {loaded:4d} modules")


if __name__ == "__main__":
    main()
