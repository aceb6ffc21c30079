"""The benchmark of every registered generator: its protocol, its outputs, and the registry link."""

from __future__ import annotations

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
    assert (out / "privacy_utility.png").stat().st_size > 1000
    runs = pd.read_csv(out / "runs.csv")
    marg = runs.set_index("generator")
    assert marg.loc["CARTSynthesizer", "tstr_auc"] > marg.loc["IndependentMarginals", "tstr_auc"]
    assert markdown(summarise(runs)).startswith("| dataset | generator |")
