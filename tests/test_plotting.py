"""Plot helpers return their Figure/Axes, draw what they claim, and reject bad input."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from course_utils import plotting as P  # noqa: E402


@pytest.fixture(scope="module")
def tables(mixed_table):
    return mixed_table(300, 0), mixed_table(300, 1)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_marginals_grid(tables):
    real, syn = tables
    fig = P.plot_marginals(real, syn, columns=["age", "sex", "severity", "bmi", "chf"], ncols=2)
    assert isinstance(fig, Figure)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 5 and len(fig.axes) == 6
    titles = [ax.get_title() for ax in visible]
    assert titles == ["age", "sex", "severity", "bmi", "chf"]
    sex_ax = visible[1]
    assert len(sex_ax.patches) == 4  # two levels x (real, synthetic) bars
    with pytest.raises(ValueError, match="'nope'"):
        P.plot_marginals(real, syn, columns=["nope"])


def test_correlation_difference_heatmap(tables):
    real, _ = tables
    shuffled = real.assign(sysbp=np.random.default_rng(0).permutation(real["sysbp"].to_numpy()))
    ax = P.plot_correlation_difference(real, shuffled)
    assert isinstance(ax, Axes)
    img = ax.get_images()[0].get_array()
    assert img.shape == (20, 20)
    cols = list(real.columns)
    i, j = cols.index("sysbp"), cols.index("diasbp")
    assert img[i, j] > 0.3 and img[cols.index("age"), cols.index("hr")] < 0.1


def test_dcr_histograms():
    rng = np.random.default_rng(0)
    fig, ax = plt.subplots()
    out = P.plot_dcr(rng.random(100), rng.random(80) + 0.5, ax=ax)
    assert out is ax
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"holdout → train", "synthetic → train"}
    with pytest.raises(ValueError, match="non-empty"):
        P.plot_dcr([], [1.0])


def test_privacy_utility_scatter():
    df = pd.DataFrame({"generator": ["CART", "VAE", "copy"], "utility": [0.8, 0.7, 0.9], "privacy": [0.5, 0.48, 0.9]})
    ax = P.plot_privacy_utility(df, reference={"x": 0.5, "y": 0.85})
    assert [t.get_text() for t in ax.texts] == ["CART", "VAE", "copy"]
    assert ax.get_xlabel() == "privacy" and ax.get_ylabel() == "utility"
    with pytest.raises(ValueError, match="'score'"):
        P.plot_privacy_utility(df, y="score")


def test_loss_curves():
    ax = P.plot_loss({"train": [3, 2, 1.5], "val": [3.2, 2.4, 2.0]}, logy=True)
    assert len(ax.get_lines()) == 2 and ax.get_yscale() == "log"
    assert list(ax.get_lines()[0].get_xdata()) == [1, 2, 3]
    with pytest.raises(ValueError, match="non-empty dict"):
        P.plot_loss({})
