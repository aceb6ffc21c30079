"""Synthesize and audit your own table from the command line.

``python -m course_utils synthesize data.csv --method cart --rows 1000 --out synthetic.csv``
reads the CSV (checks in :mod:`course_utils.release_checks`), prints the inferred
metadata, splits off a holdout the generator never sees and writes it beside the
output (``synthetic_train.csv``, ``synthetic_holdout.csv``), fits any registered
generator and writes the synthetic rows.

``python -m course_utils evaluate --train train.csv --synthetic synthetic.csv
--holdout holdout.csv --target y --html report.html`` runs :func:`~course_utils.
evaluation.evaluate`, prints the table-level rows and writes the self-contained HTML
report of :mod:`course_utils.html_report`, verdict first.

No input file is ever written, and an existing output file is kept unless ``--force``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .release_checks import (
    align_columns,
    check_for_synthesis,
    load_metadata,
    read_table,
    safe_output,
)


def resolve_method(name: str):
    """The registry entry for ``--method``: a registered name, or its short form (``cart``, ``sdv-ctgan``)."""
    from .generators import registry

    def plain(text: str) -> str:
        return text.lower().replace("_", "").replace("-", "")

    wanted = plain(name)
    for entry in registry():
        short = plain(entry.name).replace("synthesizer", "")
        if wanted in (plain(entry.name), short) or (wanted == "copula" and short == "gaussiancopula"):
            return entry
    names = ", ".join(e.name.lower().replace("synthesizer", "") for e in registry())
    raise ValueError(f"unknown method {name!r}; choose one of: {names}")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sep", default=",", help="column delimiter (default ',')")
    parser.add_argument("--encoding", default="utf-8", help="text encoding (default utf-8)")
    parser.add_argument("--metadata", default=None,
                        help="JSON or YAML file (.json, .yaml, .yml) with 'overrides' and "
                        "'one_hot_groups' for infer_metadata")
    parser.add_argument("--force", action="store_true", help="replace existing output files")


def synthesize_main(argv: list[str] | None = None) -> int:
    """``python -m course_utils synthesize``; returns the exit status."""
    p = argparse.ArgumentParser(prog="python -m course_utils synthesize",
                                description="Fit a generator on your CSV and write synthetic rows.")
    p.add_argument("csv")
    p.add_argument("--method", default="cart", help="a registered generator (default cart)")
    p.add_argument("--rows", type=int, default=None, help="rows to generate (default: as many as train)")
    p.add_argument("--out", required=True, help="the synthetic CSV to write")
    p.add_argument("--target", default=None, help="outcome column: stratifies the split")
    p.add_argument("--drop", nargs="*", default=[], help="columns to leave out (identifiers)")
    p.add_argument("--survival", nargs=2, default=None, metavar=("TIME", "EVENT"),
                   help="a survival outcome's follow-up time and 0/1 event columns: CART draws "
                        "each pair from one real patient of a survival tree (other methods ignore it)")
    p.add_argument("--test-size", type=float, default=0.3, help="holdout share (default 0.3)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fast", action="store_true", help="the generator's quick test settings")
    _common(p)
    args = p.parse_args(argv)
    from .data import train_holdout_split

    try:
        df = check_for_synthesis(read_table(args.csv, sep=args.sep, encoding=args.encoding),
                                 args.csv, args.target, args.drop)
        meta = load_metadata(df, args.metadata)
        entry = resolve_method(args.method)
        out = Path(args.out)
        stem = out.with_suffix("")
        paths = {"train": Path(f"{stem}_train.csv"), "holdout": Path(f"{stem}_holdout.csv"), "out": out}
        for path in paths.values():
            safe_output(path, [args.csv], args.force)
        train, holdout = train_holdout_split(df, test_size=args.test_size, stratify=args.target,
                                             random_state=args.seed)
        print("metadata (override with --metadata FILE.yaml or FILE.json):")
        for name in meta.names:
            spec = meta[name]
            print(f"  {name}: {spec.kind}" + (f" {list(spec.categories)[:6]}" if spec.categories else ""))
        if entry.target is not None and args.target is None:
            raise ValueError(f"method {args.method!r} needs --target (its outcome column)")
        for col in args.survival or ():
            if col not in df.columns:
                raise ValueError(f"{args.csv}: --survival names column {col!r}, which is not in the "
                                 f"table; columns are {list(df.columns)}")
        gen = entry.make(args.seed, fast=args.fast, target=args.target,
                         survival=tuple(args.survival) if args.survival else None)
        gen.fit(train, meta)
        synthetic = gen.sample(len(train) if args.rows is None else args.rows)
    except (OSError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    train.to_csv(paths["train"], index=False)
    holdout.to_csv(paths["holdout"], index=False)
    synthetic.to_csv(out, index=False)
    print(f"wrote {out} ({len(synthetic)} rows, {entry.name}); the generator saw "
          f"{paths['train']} ({len(train)} rows); {paths['holdout']} ({len(holdout)} rows) is "
          "the holdout for `python -m course_utils evaluate`")
    return 0


def evaluate_main(argv: list[str] | None = None) -> int:
    """``python -m course_utils evaluate``; returns the exit status (0 even when the verdict is negative)."""
    p = argparse.ArgumentParser(prog="python -m course_utils evaluate",
                                description="Judge a synthetic CSV against its training and holdout CSVs.")
    p.add_argument("--train", required=True)
    p.add_argument("--synthetic", required=True)
    p.add_argument("--holdout", required=True)
    p.add_argument("--target", default=None)
    p.add_argument("--html", default=None, help="write the HTML report here")
    p.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples for utility CIs")
    p.add_argument("--seed", type=int, default=0)
    _common(p)
    args = p.parse_args(argv)
    import pandas as pd

    from .evaluation import evaluate, summary
    from .evaluation.tables import check_holdout
    from .html_report import release_verdict, render_html, report_figures

    try:
        train = read_table(args.train, sep=args.sep, encoding=args.encoding)
        synthetic = align_columns(read_table(args.synthetic, sep=args.sep, encoding=args.encoding),
                                  train, args.synthetic, "synthetic table")
        holdout = align_columns(read_table(args.holdout, sep=args.sep, encoding=args.encoding),
                                train, args.holdout, "holdout")
        html_path = safe_output(args.html, [args.train, args.synthetic, args.holdout], args.force) \
            if args.html else None
        try:
            check_holdout(train, holdout)
        except ValueError as exc:
            raise ValueError(f"{args.holdout}: {exc}") from None
        if args.target is not None and args.target not in train.columns:
            raise ValueError(f"{args.train}: target column {args.target!r} is not in the file")
        meta = load_metadata(train, args.metadata)
        report = evaluate(train, synthetic, holdout, meta, target=args.target,
                          n_bootstrap=args.bootstrap, random_state=args.seed)
    except (OSError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ok, checks = release_verdict(report)
    with pd.option_context("display.width", 160, "display.max_colwidth", 70):
        print(summary(report)[["value", "reference", "interpretation"]])
    print("\nverdict:", "release candidate" if ok else
          "not ready (" + ", ".join(c.metric for c in checks if not c.passed) + ")")
    if html_path is not None:
        page = render_html(report, report_figures(train, synthetic, holdout, meta),
                           title=f"Release report: {Path(args.synthetic).name}",
                           sources={"train": args.train, "synthetic": args.synthetic,
                                    "holdout": args.holdout})
        html_path.write_text(page, encoding="utf-8")
        print(f"wrote {html_path}")
    return 0
