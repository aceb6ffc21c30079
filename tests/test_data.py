"""Loaders: shapes, types, checksums, clear errors, the split."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from course_utils import config, data


def test_stroke(stroke):
    df, meta = stroke
    assert df.shape == (1862, 51)
    assert (df.dtypes == "int64").all()
    assert int(df[data.STROKE_TARGET].sum()) == 751
    for members in data.STROKE_GROUPS.values():
        assert (df[members].sum(axis=1) == 1).all()
    assert meta["S2NihssArrival"].bounds == (0, 42)
    assert meta["Age"].kind == "integer" and meta["Male"].kind == "binary"


def test_whas500(whas500):
    assert whas500.shape == (500, 16)
    assert list(whas500["gender"].cat.categories) == ["male", "female"]
    raw = pd.read_csv(config.DATA_DIR / "whas500.csv")
    # labels map the documented codes: 0 male, 1 female
    assert ((raw["gender"] == 1) == (whas500["gender"] == "female")).all()
    assert ((raw["miord"] == 1) == (whas500["miord"] == "recurrent")).all()
    assert whas500["bmi"].dtype == float and whas500["age"].dtype == "int64"
    _, meta = data.load_whas500(return_metadata=True)
    assert meta["fstat"].kind == "binary" and meta["gender"].kind == "categorical"


def test_veterans(veterans):
    assert veterans.shape == (137, 8)
    assert list(veterans["Celltype"].cat.categories) == ["squamous", "smallcell", "adeno", "large"]
    assert veterans["Celltype"].notna().all()


def test_checksums_match_the_shipped_files():
    for name, digest in data.CHECKSUMS.items():
        assert data.sha256(config.DATA_DIR / name) == digest


def test_missing_and_altered_files_give_instructions(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "DATA_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="whas500.csv.*git checkout"):
        data.load_whas500()
    shutil.copy(config.REPO_DIR / "data" / "whas500.csv", tmp_path / "whas500.csv")
    data.load_whas500()
    with open(tmp_path / "whas500.csv", "a") as fh:
        fh.write("1,2,3\n")
    with pytest.raises(ValueError, match="altered.*git checkout -- data/whas500.csv"):
        data.load_whas500()
    with pytest.raises(ValueError, match="unknown course data file"):
        data.data_path("other.csv")


def test_load_csv_reads_a_users_file_without_touching_it(tmp_path):
    path = tmp_path / "mine.csv"
    text = "age,sex,stage\n50,f,1\n61,m,2\n70,f,2\n"
    path.write_text(text)
    df, meta = data.load_csv(path, categorical=["stage"], return_metadata=True)
    assert isinstance(df["sex"].dtype, pd.CategoricalDtype)
    assert meta["stage"].kind == "categorical" and meta["age"].kind == "integer"
    assert path.read_text() == text
    with pytest.raises(ValueError, match="'nope'"):
        data.load_csv(path, categorical=["nope"])
    with pytest.raises(FileNotFoundError):
        data.load_csv(tmp_path / "absent.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="empty"):
        data.load_csv(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("a,b\n")
    with pytest.raises(ValueError, match="no rows"):
        data.load_csv(tmp_path / "header.csv")


def test_train_holdout_split(whas500):
    train, hold = data.train_holdout_split(whas500, test_size=0.3, stratify="fstat", random_state=1)
    assert len(train) == 350 and len(hold) == 150
    assert abs(train["fstat"].mean() - hold["fstat"].mean()) < 0.01
    assert list(train.index) == list(range(350))
    again, _ = data.train_holdout_split(whas500, test_size=0.3, stratify="fstat", random_state=1)
    pd.testing.assert_frame_equal(train, again)
    other, _ = data.train_holdout_split(whas500, test_size=0.3, stratify="fstat", random_state=2)
    assert not train.equals(other)
    merged = pd.concat([train, hold]).sort_values(list(whas500.columns)).reset_index(drop=True)
    pd.testing.assert_frame_equal(merged, whas500.sort_values(list(whas500.columns)).reset_index(drop=True))
    with pytest.raises(ValueError, match="'nope'"):
        data.train_holdout_split(whas500, stratify="nope")
    with pytest.raises(ValueError, match="test_size"):
        data.train_holdout_split(whas500, test_size=1.5)
