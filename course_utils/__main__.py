"""Command line: ``python -m course_utils {build,check,grade,synthesize,evaluate,benchmark,info}``.

- ``build [--check]``: write ``exercises/`` from ``solutions/`` (``--check``: fail when stale).
- ``check NOTEBOOK``: run an exercise notebook in a fresh kernel and report each check.
- ``grade SUBMISSIONS... --lesson NN --out grades.csv``: grade a batch of notebooks.
- ``benchmark NAME [--quick] [--out FILE]``: run a benchmark, write its results as JSON.
- ``synthesize CSV --method cart --out synthetic.csv``: synthesize your own table (holdout kept aside).
- ``evaluate --train T --synthetic S --holdout H [--target y] [--html report.html]``: release report.
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
    "generators": "course_utils.benchmarks.generators",
    "mcm": "course_utils.benchmarks.mcm",
    "dp": "course_utils.benchmarks.dp",
    "realism": "course_utils.benchmarks.realism",
    "splits": "course_utils.benchmarks.splits",
    "llm": "course_utils.benchmarks.llm",
}


def _benchmark(argv: list[str]) -> int:
    if argv and argv[0] in BENCHMARKS:
        module = importlib.import_module(BENCHMARKS[argv[0]])
        if hasattr(module, "main"):  # a benchmark with options of its own
            return int(module.main(argv[1:]) or 0)
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
        "synthesize": lambda a: importlib.import_module("course_utils.release").synthesize_main(a),
        "evaluate": lambda a: importlib.import_module("course_utils.release").evaluate_main(a),
        "benchmark": _benchmark,
        "info": _info,
    }
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        print(__doc__)
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    try:
        return int(commands[argv[0]](argv[1:]) or 0)
    except ModuleNotFoundError as exc:  # the system Python instead of the course's
        print(f"{exc}: run it with the course's Python, `.venv/bin/python -m course_utils "
              f"{argv[0]} ...` (on Windows `.venv\\Scripts\\python`), after `make lab` or "
              "`make test` has built .venv", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
