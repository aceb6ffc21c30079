"""SDV's generators beside the course's: metadata conversion, registration, seeds.

Most tests run without sdv: a small stand-in for the sdv package is put in
``sys.modules``, so the conversion, the registration and the seed handling are checked
wherever the tests run. The tests at the end use the real sdv and are skipped when the
optional extra (``pip install -e .[peers]``) is not installed.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import types

import numpy as np
import pandas as pd
import pytest

from course_utils.data import load_veterans
from course_utils.generators import peers
from course_utils.schema import infer_metadata

registry_module = importlib.import_module("course_utils.generators.registry")
PEERS = ["SDV-GaussianCopula", "SDV-CTGAN", "SDV-TVAE"]


def _table(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "age": rng.integers(20, 90, n),
        "bmi": np.round(rng.normal(27, 4, n), 1),
        "smoker": rng.integers(0, 2, n),
        "stage": pd.Categorical(rng.choice(["I", "II", "III"], n), categories=["I", "II", "III"]),
        "crp": np.where(rng.random(n) < 0.2, np.nan, np.round(rng.gamma(2, 3, n), 2)),
    })


class FakeMetadata:
    """Stands in for ``sdv.metadata.Metadata``: keeps the dictionary it was built from."""

    def __init__(self, spec):
        self.spec = spec

    @classmethod
    def load_from_dict(cls, spec, single_table_name=None):
        return cls(spec)


class FakeSynthesizer:
    """Stands in for an SDV synthesizer: resamples training rows with the seed it was given."""

    calls: list = []

    def __init__(self, metadata, **params):
        self.metadata, self.params, self.seed = metadata, params, None

    def fit(self, data):
        (self.data,) = data.values()
        # what SDV's fitting draws from the global stream: it must be seeded and restored
        self.fit_draw = np.random.random()
        FakeSynthesizer.calls.append((type(self).__name__, self.params))

    def reset_sampling(self):
        self.seed = None

    def _set_random_state(self, seed):
        self.seed = seed

    def sample(self, num_rows):
        rng = np.random.default_rng(self.seed)  # seed None: different rows on every call
        rows = self.data.iloc[rng.integers(0, len(self.data), num_rows)].reset_index(drop=True)
        return {"table": rows}


@pytest.fixture
def fake_sdv(monkeypatch):
    """A stand-in sdv package in ``sys.modules``, with the peers (re)registered against it."""
    sdv = types.ModuleType("sdv")
    sdv.__spec__ = importlib.machinery.ModuleSpec("sdv", None)
    metadata = types.ModuleType("sdv.metadata")
    metadata.Metadata = FakeMetadata
    single_table = types.ModuleType("sdv.single_table")
    for name in ("GaussianCopulaSynthesizer", "CTGANSynthesizer", "TVAESynthesizer"):
        setattr(single_table, name, type(name, (FakeSynthesizer,), {}))
    sdv.metadata, sdv.single_table = metadata, single_table
    for name, module in (("sdv", sdv), ("sdv.metadata", metadata), ("sdv.single_table", single_table)):
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(registry_module, "_REGISTRY", {k: v for k, v in registry_module._REGISTRY.items()
                                                       if v.family != "peer library"})
    FakeSynthesizer.calls = []
    assert [e.name for e in registry_module.register_peers()] == PEERS
    return single_table


def test_metadata_becomes_sdv_metadata_column_by_column():
    df = _table()
    meta = infer_metadata(df)
    spec = peers.to_sdv_metadata(meta)
    assert spec["METADATA_SPEC_VERSION"] == "V2" and list(spec["tables"]) == ["table"]
    cols = spec["tables"]["table"]["columns"]
    assert list(cols) == list(df.columns)
    assert cols["age"] == {"sdtype": "numerical", "range_is_nullable": False, "decimal_places": 0,
                           "range_min": int(df["age"].min()), "range_max": int(df["age"].max())}
    assert cols["bmi"]["sdtype"] == "numerical" and cols["bmi"]["decimal_places"] == 1
    assert cols["bmi"]["range_min"] == df["bmi"].min()
    assert cols["smoker"] == {"sdtype": "categorical", "range_is_nullable": False, "range_values": [0, 1]}
    assert cols["stage"] == {"sdtype": "categorical", "range_is_nullable": False,
                             "range_values": ["I", "II", "III"]}
    assert cols["crp"]["range_is_nullable"] is True and cols["crp"]["decimal_places"] == 2
    # plain Python numbers, not numpy scalars (SDV's validation rejects those)
    assert type(cols["age"]["range_min"]) is int and type(cols["bmi"]["range_max"]) is float
    with pytest.raises(TypeError, match="Metadata"):
        peers.to_sdv_metadata({"age": "integer"})


def test_without_sdv_nothing_is_registered_and_fitting_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sdv", None)  # import sdv now fails, as when it is absent
    monkeypatch.setattr(registry_module, "_REGISTRY", {k: v for k, v in registry_module._REGISTRY.items()
                                                       if v.family != "peer library"})
    before = [e.name for e in registry_module.registry()]
    assert not registry_module.sdv_installed()
    assert registry_module.register_peers() == []
    assert [e.name for e in registry_module.registry()] == before
    with pytest.raises(ImportError, match=r"pip install -e \.\[peers\]"):
        peers.SDVGaussianCopula(random_state=0).fit(_table())


def test_with_sdv_the_three_peers_are_registered_with_their_settings(fake_sdv):
    from course_utils import generators
    from course_utils.benchmarks.generators import peers_note

    assert [e.name for e in registry_module.registry(family="peer library")] == PEERS
    assert generators.get_generator("SDV-CTGAN").load() is peers.SDVCTGAN
    assert getattr(generators, "SDV-TVAE") is peers.SDVTVAE
    assert peers_note() is None
    assert not any(e.saves for e in registry_module.registry(family="peer library"))
    df = _table()
    registry_module.get_generator("SDV-CTGAN").make(0, fast=True).fit(df)
    registry_module.get_generator("SDV-TVAE").make(0, epochs=7).fit(df)
    registry_module.get_generator("SDV-GaussianCopula").make(0).fit(df)
    assert FakeSynthesizer.calls == [
        ("CTGANSynthesizer", {"epochs": 5, "batch_size": 50, "verbose": False, "enable_gpu": False,
                              "pac": 5}),
        ("TVAESynthesizer", {"epochs": 7, "batch_size": 500, "verbose": False, "enable_gpu": False}),
        ("GaussianCopulaSynthesizer", {}),
    ]
    with pytest.raises(ValueError, match="multiple of pac"):
        peers.SDVCTGAN(batch_size=64, pac=10).fit(df)


def test_synthesize_finds_a_peer_by_its_name(fake_sdv):
    from course_utils.release import resolve_method

    assert resolve_method("sdv-ctgan").name == "SDV-CTGAN"
    assert resolve_method("SDV_TVAE").name == "SDV-TVAE"
    assert resolve_method("gaussiancopula").name == "GaussianCopula"  # the course's stays first
    assert resolve_method("sdv-gaussiancopula").name == "SDV-GaussianCopula"


def test_the_adapter_converts_fits_and_repairs_through_the_course_contract(fake_sdv):
    df = _table()
    gen = peers.SDVGaussianCopula(random_state=0).fit(df)
    assert gen.sdv_.metadata.spec == peers.to_sdv_metadata(infer_metadata(df))
    # SDV is given plain object columns; the course's dtypes come back after sampling
    assert gen.sdv_.data["stage"].dtype == object
    out = gen.sample(30)
    assert list(out.columns) == list(df.columns) and (out.dtypes == df.dtypes).all()
    assert out["stage"].cat.categories.tolist() == ["I", "II", "III"]
    with pytest.raises(NotImplementedError, match="conditions"):
        gen.sample(5, conditions={"smoker": 1})
    with pytest.raises(NotImplementedError, match="pickle"):
        gen.save("never.gen")


def test_same_seed_same_output_and_the_global_streams_are_left_alone(fake_sdv):
    df = _table()
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    a = peers.SDVCTGAN(random_state=3).fit(df)
    b = peers.SDVCTGAN(random_state=3).fit(df)
    c = peers.SDVCTGAN(random_state=4).fit(df)
    assert np.array_equal(np.random.get_state()[1], before)
    assert a.sdv_.fit_draw == b.sdv_.fit_draw != c.sdv_.fit_draw
    pd.testing.assert_frame_equal(a.sample(40), b.sample(40))
    assert not a.sample(40).equals(c.sample(40))
    pd.testing.assert_frame_equal(a.sample(25, random_state=7), a.sample(25, random_state=7))
    assert not a.sample(25).equals(a.sample(25))  # without a seed the stream moves on


def test_the_benchmark_runs_a_registered_peer(fake_sdv):
    from course_utils.benchmarks.generators import run_benchmark

    runs = run_benchmark(("veterans",), (0,), fast=True, only=["SDV-GaussianCopula"], progress=False)
    assert "error" not in runs.columns or runs["error"].isna().all()
    row = runs.iloc[0]
    # the stand-in resamples training rows: the benchmark must see copies
    assert row["generator"] == "SDV-GaussianCopula" and row["exact_match_rate"] > 0.5


# -- with the real sdv (the optional extra) ------------------------------------------------

def _real_sdv():
    return pytest.importorskip("sdv", reason="the optional extra is not installed: pip install -e .[peers]")


def test_sdv_accepts_the_converted_metadata():
    _real_sdv()
    from sdv.metadata import Metadata

    from course_utils.data import STROKE_GROUPS, load_stroke

    stroke = load_stroke()
    for df, meta in ((load_veterans(), None), (_table(), None),
                     (stroke, infer_metadata(stroke, one_hot_groups={"Hospital": STROKE_GROUPS["Hospital"]}))):
        meta = meta or infer_metadata(df)
        sdv_meta = Metadata.load_from_dict(peers.to_sdv_metadata(meta))
        sdv_meta.validate()
        cats = [c for c in df.columns if isinstance(df[c].dtype, pd.CategoricalDtype)]
        sdv_meta.validate_data({"table": df.astype(dict.fromkeys(cats, object))})


@pytest.mark.parametrize("name", PEERS)
def test_real_sdv_same_seed_same_output_and_valid_values(name):
    _real_sdv()
    df = load_veterans()
    meta = infer_metadata(df)
    entry = registry_module.get_generator(name)
    a = entry.make(2, fast=True).fit(df, meta)
    b = entry.make(2, fast=True).fit(df, meta)
    out = a.sample(80)
    pd.testing.assert_frame_equal(out, b.sample(80))
    assert not out.equals(a.sample(80))
    assert (out.dtypes == df.dtypes).all()
    for col in meta.names:
        spec = meta[col]
        if spec.categories:
            assert set(out[col].dropna()) <= set(spec.categories), col
        if spec.bounds is not None and spec.kind != "datetime":
            assert out[col].between(*spec.bounds).all(), col
