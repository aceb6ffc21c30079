"""Synthesize and evaluate a practitioner's CSV from the command line; clear errors for bad input."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from course_utils.__main__ import main
from course_utils.data import load_veterans


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.ids, self.images, self.text = [], set(), [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        for key in ("src", "href"):
            assert not str(attrs.get(key, "")).startswith(("http:", "https:", "//")), attrs

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    folder = tmp_path_factory.mktemp("release")
    data = folder / "veterans.csv"
    load_veterans().to_csv(data, index=False)
    before = data.read_bytes()
    out = folder / "synthetic.csv"
    assert main(["synthesize", str(data), "--method", "cart", "--target", "status", "--out", str(out)]) == 0
    assert data.read_bytes() == before
    return folder, out


def test_synthesize_writes_synthetic_train_and_holdout(released):
    folder, out = released
    synth = pd.read_csv(out)
    train, holdout = pd.read_csv(folder / "synthetic_train.csv"), pd.read_csv(folder / "synthetic_holdout.csv")
    assert list(synth.columns) == list(train.columns) == list(load_veterans().columns)
    assert len(synth) == len(train) and len(train) + len(holdout) == 137
    keys = lambda t: set(map(tuple, t.astype(str).to_numpy()))  # noqa: E731
    assert not keys(train) & keys(holdout)


def test_evaluate_writes_a_self_contained_report(released, capsys):
    folder, out = released
    page_path = folder / "report.html"
    args = ["evaluate", "--train", str(folder / "synthetic_train.csv"), "--synthetic", str(out),
            "--holdout", str(folder / "synthetic_holdout.csv"), "--target", "status",
            "--bootstrap", "20", "--html", str(page_path)]
    assert main(args) == 0
    page = _Page()
    page.feed(page_path.read_text(encoding="utf-8"))
    assert {"verdict", "fidelity", "detection", "utility", "privacy"} <= page.ids
    assert "script" not in page.tags
    assert len(page.images) == 3 and all(src.startswith("data:image/png;base64,") for src in page.images)
    text = " ".join(page.text)
    assert "dcr_share_closer_to_train" in text and "tstr_auc" in text
    assert "verdict:" in capsys.readouterr().out
    # an existing report is never overwritten without --force
    before = page_path.read_bytes()
    assert main(args) == 2
    assert page_path.read_bytes() == before


def test_a_copy_of_the_training_rows_is_not_a_release_candidate(released, tmp_path):
    from course_utils.evaluation import evaluate
    from course_utils.html_report import release_verdict

    folder, out = released
    train = pd.read_csv(folder / "synthetic_train.csv")
    holdout = pd.read_csv(folder / "synthetic_holdout.csv")
    for t in (train, holdout):
        for c in ("Celltype", "Prior_therapy", "Treatment"):
            t[c] = t[c].astype("category")
    ok, checks = release_verdict(evaluate(train, train.copy(), holdout, n_bootstrap=0))
    failed = {c.metric for c in checks if not c.passed}
    assert not ok and {"exact_match_rate", "dcr_share_closer_to_train"} <= failed


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def _error(capsys) -> str:
    return capsys.readouterr().err


@pytest.mark.parametrize("content, expected", [
    ("a;b;c\n1;2;3\n4;5;6\n", "--sep ';'"),
    ("name,age\nJos\xe9,3\n".encode("latin-1"), "--encoding latin-1"),
    ("", "empty"),
])
def test_unreadable_files_get_the_fix(tmp_path, capsys, content, expected):
    path = _write(tmp_path, "in.csv", content)
    assert main(["synthesize", str(path), "--out", str(tmp_path / "o.csv")]) == 2
    err = _error(capsys)
    assert expected in err and "in.csv" in err


def _table(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"patient_id": np.arange(1000, 1000 + n), "age": rng.integers(30, 90, n),
                         "sex": rng.choice(["f", "m"], n), "site": "A", "y": rng.integers(0, 2, n)})


def test_identifier_constant_and_one_class_columns_are_refused(tmp_path, capsys):
    df = _table()
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    out = str(tmp_path / "o.csv")
    assert main(["synthesize", str(path), "--out", out]) == 2
    assert "'patient_id'" in (err := _error(capsys)) and "--drop patient_id" in err
    assert main(["synthesize", str(path), "--out", out, "--drop", "patient_id"]) == 2
    assert "'site'" in (err := _error(capsys)) and "one value" in err
    df.assign(y=1).to_csv(path, index=False)
    assert main(["synthesize", str(path), "--out", out, "--drop", "patient_id", "site", "--target", "y"]) == 2
    assert "single class" in _error(capsys)
    assert not (tmp_path / "o.csv").exists()


def test_never_writes_over_the_input_or_an_existing_file(tmp_path, capsys):
    df = _table().drop(columns=["patient_id", "site"])
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    before = path.read_bytes()
    assert main(["synthesize", str(path), "--out", str(path), "--force"]) == 2
    assert "input" in _error(capsys) and path.read_bytes() == before
    (tmp_path / "o_train.csv").write_text("keep me")
    assert main(["synthesize", str(path), "--out", str(tmp_path / "o.csv")]) == 2
    assert "--force" in _error(capsys)
    assert (tmp_path / "o_train.csv").read_text() == "keep me"
    assert main(["synthesize", str(path), "--method", "nosuch", "--out", str(tmp_path / "p.csv")]) == 2
    assert "cart" in _error(capsys)


def test_evaluate_refuses_a_holdout_that_is_the_training_table(tmp_path, capsys):
    df = _table().drop(columns=["patient_id", "site"])
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    assert main(["evaluate", "--train", str(path), "--synthetic", str(path), "--holdout", str(path)]) == 2
    assert "t.csv" in _error(capsys)
    other = tmp_path / "s.csv"
    df.drop(columns=["age"]).to_csv(other, index=False)
    assert main(["evaluate", "--train", str(path), "--synthetic", str(other), "--holdout", str(path)]) == 2
    assert "missing ['age']" in _error(capsys)


def _overridable(tmp_path: Path) -> Path:
    df = _table().drop(columns=["patient_id", "site"]).assign(stage=lambda t: t["age"] % 4)
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("name, text", [
    ("meta.yaml", "overrides:\n  stage: categorical\n  age: {bounds: [18, 110]}\n"),
    ("meta.yml", "overrides:\n  stage:\n    kind: categorical\n  age:\n    bounds: [18, 110]\n"),
    ("meta.json", '{"overrides": {"stage": "categorical", "age": {"bounds": [18, 110]}}}'),
])
def test_metadata_overrides_read_from_yaml_or_json(tmp_path, name, text):
    from course_utils.release_checks import load_metadata, read_table

    df = read_table(_overridable(tmp_path))
    inferred = load_metadata(df, None)
    assert inferred["stage"].kind == "integer" and inferred["age"].bounds != (18, 110)
    meta = load_metadata(df, _write(tmp_path, name, text))
    assert meta["stage"].kind == "categorical" and meta["stage"].categories == [0, 1, 2, 3]
    assert meta["age"].bounds == (18, 110) and meta["age"].kind == "integer"


def test_synthesize_uses_a_yaml_override(tmp_path, capsys):
    path = _overridable(tmp_path)
    meta = _write(tmp_path, "meta.yaml", "overrides:\n  stage: categorical\n")
    out = tmp_path / "o.csv"
    assert main(["synthesize", str(path), "--out", str(out), "--metadata", str(meta)]) == 0
    assert "stage: categorical [0, 1, 2, 3]" in capsys.readouterr().out
    assert set(pd.read_csv(out)["stage"]) <= {0, 1, 2, 3}


@pytest.mark.parametrize("name, text, expected", [
    ("m.yaml", "overrides:\n  stage: categorical\n   age: integer\n", "not valid YAML (line 3"),
    ("m.yml", "overrides: [stage\n", "not valid YAML"),
    ("m.json", '{"overrides": {"stage": "categorical",}}', "not valid JSON (line 1"),
    ("m.yaml", "overrides:\n  no_such_column: categorical\n", "overrides.no_such_column"),
    ("m.json", '{"overrides": {"no_such_column": "categorical"}}', "overrides.no_such_column"),
    ("m.yaml", "overides:\n  stage: categorical\n", "unknown key(s) ['overides']"),
    ("m.yaml", "overrides:\n  age: {bound: [1, 2]}\n", "unknown field(s) ['bound']"),
    ("m.yaml", "overrides:\n  stage: categorcal\n", "overrides.stage.kind: unknown kind 'categorcal'"),
    ("m.yaml", "- stage\n- age\n", "expected a mapping"),
    ("m.yaml", "", "found NoneType"),
    ("m.yaml", "one_hot_groups:\n  H: [h1, h2]\n", "one_hot_groups.H names column(s) ['h1', 'h2']"),
    ("m.yaml", "overrides:\n  age: {bounds: [90, 20]}\n", "bounds low 90 is above high 20"),
    ("m.toml", "[overrides]\n", "must end in .json, .yaml or .yml"),
])
def test_bad_metadata_files_name_the_file_the_key_and_the_fix(tmp_path, capsys, name, text, expected):
    path = _overridable(tmp_path)
    meta = _write(tmp_path, name, text)
    out = tmp_path / "o.csv"
    assert main(["synthesize", str(path), "--out", str(out), "--metadata", str(meta)]) == 2
    err = _error(capsys)
    assert expected in err and name in err, err
    assert not out.exists()


def test_yaml_is_read_safely(tmp_path):
    from course_utils.release_checks import read_metadata_file

    meta = _write(tmp_path, "m.yaml", "overrides: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        read_metadata_file(meta)


@pytest.mark.filterwarnings("ignore:.*holdout rows.*exact copies")
def test_evaluate_reads_yaml_overrides_and_names_an_unknown_column(tmp_path, capsys):
    df = _table().drop(columns=["patient_id", "site"])
    train, synth, hold = (tmp_path / f"{n}.csv" for n in ("train", "synth", "hold"))
    df.iloc[:30].to_csv(train, index=False)
    df.iloc[30:].to_csv(synth, index=False)
    _table(seed=1).drop(columns=["patient_id", "site"]).to_csv(hold, index=False)
    bad = _write(tmp_path, "meta.yml", "overrides:\n  weight: continuous\n")
    args = ["evaluate", "--train", str(train), "--synthetic", str(synth), "--holdout", str(hold),
            "--bootstrap", "0"]
    assert main([*args, "--metadata", str(bad)]) == 2
    err = _error(capsys)
    assert "meta.yml" in err and "overrides.weight" in err and "columns are ['age', 'sex', 'y']" in err
    good = _write(tmp_path, "good.yaml", "overrides:\n  y: categorical\n")
    assert main([*args, "--metadata", str(good)]) == 0


def test_synthesize_draws_a_survival_pair_from_one_patient(tmp_path, capsys):
    data = tmp_path / "veterans.csv"
    real = load_veterans()
    real.to_csv(data, index=False)
    out = tmp_path / "s.csv"
    assert main(["synthesize", str(data), "--target", "status", "--survival", "survival_days", "status",
                 "--rows", "300", "--out", str(out)]) == 0
    synth = pd.read_csv(out)
    pairs = set(zip(real["survival_days"], real["status"], strict=True))
    assert all(p in pairs for p in zip(synth["survival_days"], synth["status"], strict=True))
    assert main(["synthesize", str(data), "--survival", "days", "status", "--out", str(tmp_path / "t.csv")]) == 2
    assert "--survival names column 'days'" in capsys.readouterr().err
    assert not (tmp_path / "t.csv").exists()
