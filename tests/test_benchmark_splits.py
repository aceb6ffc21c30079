"""One table split many times, and the course's target checked on a benchmark summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_utils.__main__ import main
from course_utils.benchmarks.generators import TARGET, target_check, target_markdown
from course_utils.benchmarks.splits import RESAMPLED, run_splits, splits_markdown, summarise_splits


@pytest.fixture(scope="module")
def veterans_runs() -> pd.DataFrame:
    return run_splits("veterans", 3, ("IndependentMarginals", "NoisyCopies"), fast=True, progress=False)


def test_each_split_is_a_new_holdout_and_the_differences_are_paired(veterans_runs):
    runs = veterans_runs
    assert "error" not in runs.columns or runs["error"].isna().all()
    assert sorted(set(runs["split_seed"])) == sorted(set(runs["split"] + 43))  # never the course's split (42)
    real = runs[runs["generator"] == "NoisyCopies"].set_index("split")
    assert real["trtr_auc"].nunique() == 3 and real["trtr_cindex"].nunique() == 3  # other patients each time
    assert np.allclose(runs["tstr_minus_trtr_auc"], runs["tstr_auc"] - runs["trtr_auc"])
    assert np.allclose(runs["tstr_minus_trtr_cindex"], runs["tstr_cindex"] - runs["trtr_cindex"])
    by = runs.groupby("generator")[["dcr_share", "tstr_minus_trtr_cindex"]].mean()
    # copies of the training rows sit nearer to them, and keep the survival model that columns
    # drawn on their own lose
    assert by.loc["NoisyCopies", "dcr_share"] > by.loc["IndependentMarginals", "dcr_share"] + 0.2
    assert by.loc["NoisyCopies", "tstr_minus_trtr_cindex"] > by.loc["IndependentMarginals",
                                                                    "tstr_minus_trtr_cindex"] + 0.1


def test_each_split_scores_the_training_rows_resampled_as_the_floor_of_the_gaps(veterans_runs):
    ref = veterans_runs[veterans_runs["generator"] == RESAMPLED].set_index("split")
    gen = veterans_runs[veterans_runs["generator"] == "IndependentMarginals"].set_index("split")
    assert len(ref) == 3 and (ref["exact_match_rate"] == 1.0).all()  # real patients, every row
    pd.testing.assert_series_equal(ref["trtr_cindex"], gen["trtr_cindex"])  # the same split's holdout
    assert (ref["tstr_minus_trtr_cindex"] != 0).all()  # a new sample, not the training table itself
    assert ref["tstr_minus_trtr_cindex"].mean() > gen["tstr_minus_trtr_cindex"].mean() + 0.1


def test_same_seeds_give_the_same_runs(veterans_runs):
    again = run_splits("veterans", 3, ("IndependentMarginals", "NoisyCopies"), fast=True, progress=False)
    scores = [c for c in veterans_runs.columns if c != "fit_s"]
    pd.testing.assert_frame_equal(veterans_runs[scores], again[scores])


def test_summary_gives_the_mean_and_its_standard_error_over_scored_splits():
    runs = pd.DataFrame({"dataset": "veterans", "generator": ["A"] * 4,
                         "dcr_share": [0.4, 0.5, 0.6, np.nan],
                         "error": [None, None, None, "ValueError: one class"]})
    out = summarise_splits(runs).iloc[0]
    assert out["n_splits"] == 3  # the failed split is left out
    assert out["dcr_share"] == pytest.approx(0.5)
    assert out["dcr_share_se"] == pytest.approx(0.1 / np.sqrt(3))
    assert "0.500 ± 0.058" in splits_markdown(summarise_splits(runs))


def test_bad_arguments_are_refused_by_name(tmp_path, capsys):
    with pytest.raises(ValueError, match="n_splits"):
        run_splits("veterans", 1, ("IndependentMarginals",), progress=False)
    with pytest.raises(KeyError, match="NoSuchGenerator"):
        run_splits("veterans", 2, ("NoSuchGenerator",), progress=False)
    assert main(["benchmark", "splits", "--only", "NoSuchGenerator", "--out", str(tmp_path / "x")]) == 2
    assert "NoSuchGenerator" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # nothing written for a run that never started


def test_command_writes_runs_summary_and_target(tmp_path):
    out = tmp_path / "splits"
    assert main(["benchmark", "splits", "--dataset", "veterans", "--splits", "2", "--fast",
                 "--only", "IndependentMarginals", "--out", str(out)]) == 0
    assert len(pd.read_csv(out / "runs.csv")) == 4  # and the resampled reference on each split
    summary = pd.read_csv(out / "summary.csv")
    assert {"tstr_minus_trtr_cindex", "tstr_minus_trtr_cindex_se", "n_splits"} <= set(summary.columns)
    assert "IndependentMarginals | 2 |" in (out / "summary.md").read_text()
    assert "(training rows resampled) | 2 |" in (out / "summary.md").read_text()
    target = (out / "target.md").read_text()
    assert "| cindex |" in target and RESAMPLED not in target  # a reference, not a candidate
    assert main(["benchmark", "splits", "--dataset", "veterans", "--splits", "2", "--fast",
                 "--only", "GaussianCopula", "--out", str(out), "--append"]) == 0
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 6 and set(runs["generator"]) == {"IndependentMarginals", "GaussianCopula", RESAMPLED}
    assert (pd.read_csv(out / "summary.csv")["n_splits"] == 2).all()  # the resampled rows replaced, not doubled


def _row(**changes) -> dict:
    row = {"dataset": "whas500", "generator": "Good", "quality": 0.93, "quality_holdout": 0.94,
           "detection_auc": 0.55, "tstr_auc": 0.90, "trtr_auc": 0.91, "tstr_cindex": 0.79,
           "trtr_cindex": 0.80, "dcr_share": 0.52, "exact_match_rate": 0.0, "fit_s": 1.0}
    row.update(changes)
    return row


@pytest.mark.parametrize("criterion, change", [
    ("quality", {"quality": 0.91}), ("detection", {"detection_auc": 0.61}), ("tstr", {"tstr_auc": 0.88}),
    ("cindex", {"tstr_cindex": 0.77}), ("dcr", {"dcr_share": 0.56}), ("copies", {"exact_match_rate": 0.001}),
    ("fit_time", {"fit_s": 10.0}),
])
def test_each_target_criterion_can_fail_on_its_own(criterion, change):
    check = target_check(pd.DataFrame([_row(), _row(generator="Bad", **change)])).set_index("generator")
    assert check.loc["Good", "all"] and check.loc["Good", criterion] is True
    assert check.loc["Bad", criterion] is False and not check.loc["Bad", "all"]
    others = [k for k in TARGET if k != criterion]
    assert all(check.loc["Bad", k] is True for k in others)


def test_cindex_does_not_apply_without_a_survival_pair_and_a_failed_score_fails():
    rows = [_row(dataset="stroke", tstr_cindex=np.nan, trtr_cindex=np.nan),
            _row(generator="NoCox", tstr_cindex=np.nan),  # a survival table whose Cox fit failed
            _row(generator="Failed", quality=np.nan)]
    check = target_check(pd.DataFrame(rows)).set_index(["dataset", "generator"])
    assert check.loc[("stroke", "Good"), "cindex"] is None and check.loc[("stroke", "Good"), "all"]
    assert check.loc[("whas500", "NoCox"), "cindex"] is False
    assert check.loc[("whas500", "Failed"), "quality"] is False
    text = target_markdown(pd.DataFrame(rows))
    assert "| stroke | Good | yes | yes | yes | n/a |" in text
    assert text.rstrip().endswith("Every criterion on every table (stroke, whas500): Good.")
    assert "No generator meets" in target_markdown(pd.DataFrame(rows[1:]))
