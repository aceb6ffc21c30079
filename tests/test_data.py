"""Loaders: shapes, types, checksums, clear errors, the split."""

from __future__ import annotations

import os
import shutil
import subprocess

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
    with pytest.raises(ValueError, match="altered.*checkout HEAD -- data/whas500.csv"):
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


def _crlf_copy(name: str, folder) -> None:
    raw = (config.REPO_DIR / "data" / name).read_bytes()
    (folder / name).write_bytes(raw.replace(b"\n", b"\r\n"))


def test_crlf_line_endings_are_named_with_a_fix_that_works(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "DATA_DIR", tmp_path)
    _crlf_copy("veterans.csv", tmp_path)
    with pytest.raises(ValueError) as info:
        data.load_veterans()
    message = str(info.value)
    assert "CRLF" in message and "core.autocrlf" in message
    assert "git -c core.autocrlf=false checkout HEAD -- data/veterans.csv" in message
    assert "git clone -c core.autocrlf=false" in message
    # any other change is reported as an alteration, with the same working restore command
    (tmp_path / "veterans.csv").write_bytes(b"x" + (config.REPO_DIR / "data" / "veterans.csv").read_bytes())
    with pytest.raises(ValueError, match="altered.*checkout HEAD -- data/veterans.csv") as info:
        data.load_veterans()
    assert "CRLF" not in str(info.value)


def _git(*args, cwd):
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "HOME": str(cwd), "PATH": os.environ["PATH"],
           "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.parametrize("with_attributes", [True, False], ids=["gitattributes", "old-clone"])
def test_autocrlf_clone_keeps_data_bytes_or_the_fix_restores_them(tmp_path, with_attributes):
    name = "veterans.csv"
    original = (config.REPO_DIR / "data" / name).read_bytes()
    source = tmp_path / "source"
    (source / "data").mkdir(parents=True)
    (source / "data" / name).write_bytes(original)
    if with_attributes:
        shutil.copy(config.REPO_DIR / ".gitattributes", source / ".gitattributes")
    _git("init", "-q", cwd=source)
    _git("add", "-A", cwd=source)
    _git("commit", "-q", "-m", "data", cwd=source)
    _git("clone", "-q", "-c", "core.autocrlf=true", str(source), "clone", cwd=tmp_path)
    cloned = tmp_path / "clone" / "data" / name
    if with_attributes:
        assert cloned.read_bytes() == original, ".gitattributes did not keep the data bytes"
        return
    assert cloned.read_bytes() != original  # what a Windows clone without .gitattributes gets
    cloned.unlink()  # the fix the loader's message gives
    _git("-c", "core.autocrlf=false", "checkout", "HEAD", "--", f"data/{name}", cwd=tmp_path / "clone")
    assert data.sha256(cloned) == data.CHECKSUMS[name]


def test_load_csv_names_an_encoding_problem_and_its_fix(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("name,city\nRené,Orléans\nAnna,Köln\n".encode("latin-1"))
    with pytest.raises(ValueError) as info:
        data.load_csv(path)
    message = str(info.value)
    assert not isinstance(info.value, UnicodeDecodeError)
    assert "excel.csv" in message and "UTF-8" in message.upper()
    assert 'encoding="latin-1"' in message and "0xe9" in message
    df = data.load_csv(path, encoding="latin-1")
    assert list(df["name"]) == ["René", "Anna"]
