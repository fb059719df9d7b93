"""Run every registered benchmark, or the ones named: ``python -m bench [name ...] [-- args]``.

Arguments after ``--`` go to each benchmark (e.g. ``python -m bench events_intake -- --events 2000``).
"""

from __future__ import annotations

import importlib
import sys

from bench import BENCHMARKS


def main(argv: list[str]) -> int:
    if "--" in argv:
        split = argv.index("--")
        names, rest = argv[:split], argv[split + 1 :]
    else:
        names, rest = argv, []
    if names in (["-h"], ["--help"]):
        print(__doc__)
        print("benchmarks:", ", ".join(BENCHMARKS))
        return 0
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    status = 0
    for name in names or list(BENCHMARKS):
        print(f"=== {name} ===", flush=True)
        module = importlib.import_module(BENCHMARKS[name])
        status = max(status, int(module.main(rest) or 0))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
