"""Command line: ``python -m course_utils {build,check,grade,benchmark,info}``.

- ``build [--check]``: write ``exercises/`` from ``solutions/`` (``--check``: fail when stale).
- ``check NOTEBOOK``: run an exercise notebook in a fresh kernel and report each check.
- ``grade SUBMISSIONS... --lesson NN --out grades.csv``: grade a batch of notebooks.
- ``benchmark NAME [--quick] [--out FILE]``: run a benchmark, write its results as JSON.
- ``info``: versions, fast mode, device, data checksums.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

BENCHMARKS = {
    "evaluation": "course_utils.benchmarks.evaluation",
    "cart": "course_utils.benchmarks.cart",
    "deep": "course_utils.benchmarks.deep",
    "llm": "course_utils.benchmarks.llm",
}


def _benchmark(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils benchmark")
    parser.add_argument("name", choices=sorted(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--out", default=None, help="results file (default benchmarks/results/NAME.json)")
    args = parser.parse_args(argv)
    module = importlib.import_module(BENCHMARKS[args.name])
    results = module.run(quick=args.quick)
    out = Path(args.out or Path("benchmarks") / "results" / f"{args.name}{'-quick' if args.quick else ''}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2, default=str))
    print(f"results written to {out}")
    return 0


def _info(argv: list[str]) -> int:
    import platform

    from . import config, data

    print(f"python {platform.python_version()} on {platform.platform()}")
    for mod in ("numpy", "pandas", "sklearn", "imblearn", "torch"):
        try:
            print(f"{mod} {importlib.import_module(mod).__version__}")
        except ImportError:
            print(f"{mod} not installed")
    print(f"fast mode: {config.fast_mode()}")
    try:
        print(f"torch device: {config.device()}")
    except ImportError:
        pass
    for name in data.CHECKSUMS:
        try:
            data.data_path(name)
            print(f"data/{name}: ok")
        except (OSError, ValueError) as exc:
            print(f"data/{name}: {exc}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m course_utils``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {
        "build": lambda a: importlib.import_module("course_utils.build").main(a),
        "check": lambda a: importlib.import_module("course_utils.selfcheck").main(a),
        "grade": lambda a: importlib.import_module("course_utils.grade").main(a),
        "benchmark": _benchmark,
        "info": _info,
    }
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        print(__doc__)
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    return int(commands[argv[0]](argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
