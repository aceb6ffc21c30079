"""The benchmark of every registered generator: its protocol, its outputs, and the registry link."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from course_utils.__main__ import main
from course_utils.benchmarks.generators import markdown, run_benchmark, summarise
from course_utils.generators import GeneratorEntry
from course_utils.generators.registry import register_generator, unregister_generator


def test_a_registered_toy_generator_appears_in_the_benchmark_without_other_edits():
    register_generator(GeneratorEntry("ToyShuffle", "tests.test_registry", "baseline", "99", "toy"))
    try:
        runs = run_benchmark(("veterans",), (0,), fast=True, only=["ToyShuffle", "CARTSynthesizer"],
                             progress=False)
    finally:
        unregister_generator("ToyShuffle")
    assert set(runs["generator"]) == {"ToyShuffle", "CARTSynthesizer"}
    assert "error" not in runs.columns or runs["error"].isna().all()
    toy = runs.set_index("generator").loc["ToyShuffle"]
    # each column shuffled on its own: relations are gone, so the outcome model learns little
    assert toy["tstr_auc"] < toy["trtr_auc"] - 0.1
    for metric in ("quality", "detection_auc", "dcr_share", "exact_match_rate", "fit_s"):
        assert np.isfinite(toy[metric]), metric


def test_a_copying_generator_is_told_apart_from_a_sound_one():
    runs = run_benchmark(("veterans",), (0,), fast=True,
                         only=["NoisyCopies", "GaussianCopula"], progress=False)
    # NoisyCopies is left out of the default table (in_benchmark=False); --only brings it in
    by = runs.set_index("generator")
    assert by.loc["NoisyCopies", "dcr_share"] > 0.8 > 0.6 > by.loc["GaussianCopula", "dcr_share"]


def test_command_writes_tables_and_plot(tmp_path):
    out = tmp_path / "bench"
    assert main(["benchmark", "generators", "--datasets", "veterans", "--seeds", "0", "--fast",
                 "--only", "IndependentMarginals,CARTSynthesizer", "--out", str(out)]) == 0
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["generator"]) == {"IndependentMarginals", "CARTSynthesizer"}
    text = (out / "summary.md").read_text()
    assert text.count("\n") == 4 and "CARTSynthesizer" in text
    assert "| veterans | CARTSynthesizer |" in (out / "target.md").read_text()
    for png in ("privacy_utility.png", "fidelity.png", "fit_time.png"):
        assert (out / png).stat().st_size > 1000, png
    runs = pd.read_csv(out / "runs.csv")
    marg = runs.set_index("generator")
    assert marg.loc["CARTSynthesizer", "tstr_auc"] > marg.loc["IndependentMarginals", "tstr_auc"]
    assert markdown(summarise(runs)).startswith("| dataset | generator |")


def _fake_runs(seeds=(0, 1)) -> pd.DataFrame:
    rows = []
    for name in ("whas500", "veterans"):
        for gen, fit_s, quality in (("Fast", 0.01, 0.90), ("Slow", 120.0, 0.95)):
            for seed in seeds:
                rows.append({"dataset": name, "generator": gen, "seed": seed, "quality_holdout": 0.93,
                             "detection_auc_holdout": 0.45, "fit_s": fit_s * (1 + seed),
                             "quality": quality, "detection_auc": 0.6, "tstr_auc": 0.8,
                             "trtr_auc": 0.85, "dcr_share": 0.55, "exact_match_rate": 0.0})
    rows.append({"dataset": "veterans", "generator": "Broken", "seed": 0, "error": "ValueError: no"})
    return pd.DataFrame(rows)


def test_replot_redraws_the_figures_from_runs_csv_without_running_a_generator(tmp_path, monkeypatch,
                                                                             capsys):
    from course_utils.benchmarks import generators

    def no_run(*args, **kwargs):
        raise AssertionError("--replot ran the generators")

    monkeypatch.setattr(generators, "run_benchmark", no_run)
    _fake_runs().to_csv(tmp_path / "runs.csv", index=False)
    (tmp_path / "summary.md").write_text("kept by hand\n")
    assert main(["benchmark", "generators", "--replot", "--out", str(tmp_path)]) == 0
    assert "| veterans | Slow |" in (tmp_path / "target.md").read_text()  # the target, checked again
    for png in ("privacy_utility.png", "fidelity.png", "fit_time.png"):
        assert (tmp_path / png).stat().st_size > 1000, png
    assert (tmp_path / "summary.md").read_text() == "kept by hand\n"
    assert "fit_time.png" in capsys.readouterr().out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["benchmark", "generators", "--replot", "--out", str(empty)]) == 2
    assert "runs.csv" in capsys.readouterr().err


def test_figures_read_the_summary_means(monkeypatch, tmp_path):
    from matplotlib.axes import Axes

    from course_utils.benchmarks import generator_plots

    drawn, real_bar = [], Axes.bar

    def spy(ax, x, heights, *args, **kwargs):
        drawn.append([round(float(h), 6) for h in heights])
        return real_bar(ax, x, heights, *args, **kwargs)

    monkeypatch.setattr(Axes, "bar", spy)
    summary = summarise(_fake_runs())
    assert set(summary["generator"]) == {"Fast", "Slow"}  # the failed run is left out
    generator_plots.plot_fit_time(summary, tmp_path / "t.png")
    # one panel per table; the mean over seeds 0 and 1 of fit_s * (1 + seed) is 1.5 fit_s
    assert drawn == [[0.015, 180.0], [0.015, 180.0]]
    drawn.clear()
    generator_plots.plot_fidelity(summary, tmp_path / "q.png")
    assert drawn == [[0.90, 0.95], [0.90, 0.95]]


def test_the_output_says_how_to_add_the_peer_generators_when_they_are_absent(tmp_path, capsys,
                                                                              monkeypatch):
    import importlib
    import json

    reg = importlib.import_module("course_utils.generators.registry")
    # the extra may be installed where this runs: take its generators away for this test
    monkeypatch.setattr(reg, "_REGISTRY",
                        {k: v for k, v in reg._REGISTRY.items() if v.family != "peer library"})
    out = tmp_path / "bench"
    assert main(["benchmark", "generators", "--datasets", "veterans", "--seeds", "0", "--fast",
                 "--only", "IndependentMarginals", "--out", str(out)]) == 0
    assert "pip install -e .[peers]" in capsys.readouterr().out
    assert "pip install -e .[peers]" in json.loads((out / "settings.json").read_text())["peers"]


def test_appended_runs_add_seeds_and_replace_a_repeated_run():
    from course_utils.benchmarks.generators import combine_runs

    old = _fake_runs(seeds=(0,))
    new = _fake_runs(seeds=(0, 1)).query("generator == 'Slow'").assign(quality=0.5)
    both = combine_runs(old, new)
    slow = both[both["generator"] == "Slow"]
    assert sorted(slow["seed"]) == [0, 0, 1, 1]  # two tables, seeds 0 and 1, each once
    assert (slow["quality"] == 0.5).all()  # seed 0 of the old run was replaced
    assert len(both[both["generator"] == "Fast"]) == 2 and "Broken" in set(both["generator"])
    assert combine_runs(old.iloc[:0], new).equals(new.reset_index(drop=True))
    # a replaced run stays where it was, so a table run again keeps its place in the summary
    old_order = list(dict.fromkeys(zip(old["dataset"], old["generator"], strict=True)))
    both_order = list(dict.fromkeys(zip(both["dataset"], both["generator"], strict=True)))
    assert both_order == old_order


def test_append_on_the_command_line_keeps_the_earlier_runs(tmp_path):
    out = tmp_path / "bench"
    common = ["benchmark", "generators", "--datasets", "veterans", "--fast", "--only",
              "IndependentMarginals", "--out", str(out)]
    assert main([*common, "--seeds", "0"]) == 0
    assert main([*common, "--seeds", "1", "--append"]) == 0
    runs = pd.read_csv(out / "runs.csv")
    assert sorted(runs["seed"]) == [0, 1]
    assert json.loads((out / "settings.json").read_text())["seeds"] == [0, 1]
    assert main([*common, "--seeds", "1"]) == 0  # without --append the file starts afresh
    assert sorted(pd.read_csv(out / "runs.csv")["seed"]) == [1]


def test_survival_tables_get_a_cox_tstr_and_the_others_do_not():
    from course_utils.benchmarks.generators import SURVIVAL, load_split, score

    train, holdout, meta, target = load_split("veterans")
    copied = score(train, train, holdout, meta, target, 0, SURVIVAL["veterans"])
    assert copied["tstr_cindex"] == copied["trtr_cindex"]  # trained on the same rows: the same model
    assert 0.6 < copied["trtr_cindex"] < 0.9
    rng = np.random.default_rng(1)  # each column in its own order: no relation left between them
    shuffled = pd.DataFrame({c: train[c].to_numpy()[rng.permutation(len(train))] for c in train.columns})
    broken = score(train, shuffled.astype(train.dtypes.to_dict()), holdout, meta, target, 0, SURVIVAL["veterans"])
    assert broken["tstr_cindex"] < copied["trtr_cindex"] - 0.05  # 42 holdout patients: chance moves it too
    assert "tstr_cindex" not in score(train, train, holdout, meta, target, 0)
    runs = run_benchmark(("veterans",), (0,), fast=True, only=["IndependentMarginals"], progress=False)
    assert np.isfinite(runs.loc[0, "tstr_cindex"]) and np.isfinite(runs.loc[0, "trtr_cindex"])
    assert "| - |" in markdown(summarise(pd.concat([runs, runs.assign(dataset="stroke", tstr_cindex=np.nan,
                                                                         trtr_cindex=np.nan)])))
