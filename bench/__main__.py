"""Run the benchmarks: ``python -m bench [name ...]``.

Each benchmark runs in its own process, so each can configure Django (its own throw-away
database) without stepping on the others.
"""

from __future__ import annotations

import subprocess
import sys

# name -> module with a main(); add yours here.
BENCHMARKS: dict[str, str] = {
    "balance_page": "bench.balance_page",
}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    failed = 0
    for name in names:
        print(f"=== {name} ===", flush=True)
        code = subprocess.call(
            [sys.executable, "-c", f"import {BENCHMARKS[name]} as m; raise SystemExit(m.main())"]
        )
        failed += code != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
