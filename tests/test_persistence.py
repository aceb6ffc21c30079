"""Generator files: exact round trips, damaged files, crafted files and what save overwrites."""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from course_utils import persistence
from course_utils.data import load_veterans
from course_utils.generators import (
    CARTSynthesizer,
    GaussianCopula,
    IndependentMarginals,
    Synthesizer,
)
from course_utils.schema import infer_metadata

from .conftest import with_missing
from .contract_registry import ENTRIES, ContractEntry

IDS = [e.name for e in ENTRIES]
BY_NAME = {e.name: e for e in ENTRIES}
_FITTED: dict[tuple[str, str], Synthesizer] = {}


def _table(name: str) -> tuple[pd.DataFrame, object]:
    vet = load_veterans()
    if name == "missing":
        vet = with_missing(vet, {"Karnofsky_score": 0.2, "Celltype": 0.15})
    return vet, infer_metadata(vet)


def _make(entry: ContractEntry, seed: int) -> Synthesizer:
    return entry.factory(seed) if entry.target is None else entry.factory(seed, entry.target)


def _fitted(name: str, table: str = "veterans") -> Synthesizer:
    """A generator fitted once per test session (tests must not sample from it)."""
    if (name, table) not in _FITTED:
        df, meta = _table(table)
        _FITTED[name, table] = _make(BY_NAME[name], 5).fit(df, meta)
    return _FITTED[name, table]


def _saved(tmp_path: Path, name: str) -> bytes:
    return _fitted(name).save(tmp_path / f"{name}.gen").read_bytes()


def _rewrite(data: bytes, edit_doc=None, edit_arrays=None) -> bytes:
    """A file with its JSON and/or arrays edited and a freshly computed, valid checksum."""
    payload = persistence.verified_payload(data)
    with zipfile.ZipFile(io.BytesIO(payload)) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    doc = json.loads(members["model.json"])
    if edit_doc is not None:
        edit_doc(doc)
    members["model.json"] = json.dumps(doc).encode()
    if edit_arrays is not None:
        arrays = {k: np.load(io.BytesIO(v)) for k, v in members.items() if k.endswith(".npy")}
        edit_arrays(doc, arrays)
        for k, arr in arrays.items():
            buf = io.BytesIO()
            np.save(buf, arr)
            members[k] = buf.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, raw in members.items():
            zf.writestr(name, raw)
    return persistence.with_header(out.getvalue())


def _nodes(node, kind: str):
    """Every node of type ``kind`` in a JSON document, depth first."""
    if isinstance(node, dict):
        if node.get("t") == kind:
            yield node
        for v in node.values():
            yield from _nodes(v, kind)
    elif isinstance(node, list):
        for v in node:
            yield from _nodes(v, kind)


# -- round trips ---------------------------------------------------------------------------
@pytest.fixture(params=ENTRIES, ids=IDS)
def entry(request) -> ContractEntry:
    return request.param


@pytest.mark.parametrize("table", ["veterans", "missing"])
def test_loaded_generator_samples_exactly_what_the_saved_one_would(entry, table, tmp_path):
    if table == "missing" and not entry.handles_missing:
        pytest.skip(f"{entry.name} does not learn from missing values")
    if not entry.saves:
        pytest.skip(f"{entry.name} refuses to save (the contract tests check that it says so)")
    df, meta = _table(table)
    gen = _make(entry, 5).fit(df, meta)
    gen.sample(7)  # the stream is mid-way: the file must keep its position, not the seed
    path = gen.save(tmp_path / "gen.gen")
    loaded = Synthesizer.load(path)
    assert type(loaded) is type(gen)
    assert loaded.get_params().keys() == gen.get_params().keys()
    for _ in range(2):
        pd.testing.assert_frame_equal(gen.sample(25), loaded.sample(25))
    pd.testing.assert_frame_equal(gen.sample(10, random_state=3), loaded.sample(10, random_state=3))
    if entry.supports_conditions:
        pd.testing.assert_frame_equal(gen.sample(10, conditions={"Treatment": "test"}),
                                      loaded.sample(10, conditions={"Treatment": "test"}))
    # the loaded generator saves and loads again, and refits like the original
    again = Synthesizer.load(loaded.save(tmp_path / "again.gen"))
    pd.testing.assert_frame_equal(gen.sample(15), again.sample(15))
    pd.testing.assert_frame_equal(_make(entry, 5).fit(df, meta).sample(10), loaded.fit(df, meta).sample(10))


def test_the_payload_is_a_plain_zip_of_json_and_npy(tmp_path):
    data = _saved(tmp_path, "CARTSynthesizer")
    magic, version, flags, length, digest = struct.unpack(">8sHHQ32s", data[: persistence.HEADER_SIZE])
    assert (magic, version, flags, length) == (persistence.MAGIC, 1, 0, len(data) - persistence.HEADER_SIZE)
    with zipfile.ZipFile(io.BytesIO(data[persistence.HEADER_SIZE:])) as zf:
        doc = json.loads(zf.read("model.json"))
        names = zf.namelist()
        arrays = [np.load(io.BytesIO(zf.read(n)), allow_pickle=False) for n in names if n.endswith(".npy")]
    assert doc["root"]["cls"] == "course_utils.generators.cart:CARTSynthesizer"
    assert arrays and all(a.dtype != object for a in arrays)
    assert next(_nodes(doc, "sktree"))["node_count"] > 1


def test_a_gan_trained_on_a_gpu_loads_on_a_machine_without_one(tmp_path):
    import torch

    gen = _make(BY_NAME["GANSynthesizer"], 1).fit(load_veterans())
    gen.device_ = torch.device("cuda")  # as if trained there; its networks stay on the CPU here
    loaded = Synthesizer.load(gen.save(tmp_path / "gan.gen"))
    assert next(loaded.generator_.parameters()).device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        pd.testing.assert_frame_equal(gen.sample(20), loaded.sample(20))


def test_load_checks_the_class_it_is_called_on(tmp_path):
    path = _fitted("GaussianCopula").save(tmp_path / "copula.gen")
    assert isinstance(GaussianCopula.load(path), GaussianCopula)
    with pytest.raises(TypeError, match="GaussianCopula"):
        CARTSynthesizer.load(path)


# -- what save writes and what it overwrites ------------------------------------------------
def test_save_refuses_an_unfitted_generator(tmp_path):
    with pytest.raises(NotFittedError):
        CARTSynthesizer().save(tmp_path / "gen.gen")
    assert list(tmp_path.iterdir()) == []


def test_save_replaces_a_generator_file_or_an_empty_file_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "gen.gen"
    target.write_bytes(b"")
    _fitted("GaussianCopula").save(target)
    _fitted("IndependentMarginals").save(target)  # a generator file may be replaced
    assert isinstance(Synthesizer.load(target), IndependentMarginals)
    assert [p.name for p in tmp_path.iterdir()] == ["gen.gen"]


def test_save_names_an_attribute_it_cannot_store_and_writes_nothing(tmp_path):
    gen = IndependentMarginals(random_state=0).fit(load_veterans())
    gen.notes_ = {"cleaning": lambda df: df}
    target = tmp_path / "gen.gen"
    _fitted("GaussianCopula").save(target)
    before = target.read_bytes()
    with pytest.raises(TypeError, match=r"notes_\['cleaning'\]"):
        gen.save(target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["gen.gen"]


def test_save_never_unpickles_the_file_it_would_replace(tmp_path):
    canary = tmp_path / "canary"

    class Exploit:
        def __reduce__(self):
            return (open, (str(canary), "w"))

    target = tmp_path / "gen.gen"
    target.write_bytes(pickle.dumps(Exploit()))
    before = target.read_bytes()
    with pytest.raises(FileExistsError, match="not a saved generator"):
        _fitted("GaussianCopula").save(target)
    with pytest.raises(ValueError, match="not a course_utils generator file"):
        Synthesizer.load(target)
    assert not canary.exists()
    assert target.read_bytes() == before


def test_save_refuses_other_files_and_folders(tmp_path):
    notes = tmp_path / "notes.csv"
    notes.write_text("patient,notes\n1,keep me\n")
    with pytest.raises(FileExistsError):
        _fitted("GaussianCopula").save(notes)
    assert notes.read_text() == "patient,notes\n1,keep me\n"
    with pytest.raises(FileExistsError, match="not a regular file"):
        _fitted("GaussianCopula").save(tmp_path)


# -- damaged files -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["CARTSynthesizer", "GaussianCopula", "IndependentMarginals", "VAESynthesizer"])
def test_every_flipped_bit_is_a_clear_error(name, tmp_path):
    data = _saved(tmp_path, name)
    rng = np.random.default_rng(12)
    # one bit in each header field (magic, version, flags, length, checksum), the rest anywhere
    positions = [0, 9, 11, 19, 30] + list(rng.integers(0, len(data), size=25))
    path = tmp_path / "flipped.gen"
    for pos in positions:
        damaged = bytearray(data)
        damaged[pos] ^= 1 << int(rng.integers(0, 8))
        path.write_bytes(bytes(damaged))
        with pytest.raises(ValueError):
            Synthesizer.load(path)


def test_cut_short_or_extended_files_are_refused(tmp_path):
    data = _saved(tmp_path, "GaussianCopula")
    path = tmp_path / "bad.gen"
    for bad in (data[:-1], data + b"\0", data[:40], b""):
        path.write_bytes(bad)
        with pytest.raises(ValueError):
            Synthesizer.load(path)


def test_a_newer_format_version_is_a_clear_error(tmp_path):
    data = _saved(tmp_path, "GaussianCopula")
    path = tmp_path / "newer.gen"
    path.write_bytes(data[:8] + struct.pack(">H", persistence.FORMAT_VERSION + 1) + data[10:])
    with pytest.raises(ValueError, match="newer .*update course_utils"):
        Synthesizer.load(path)


# -- crafted files with a valid checksum ------------------------------------------------------
def test_a_type_not_on_the_list_is_refused_without_importing_it(tmp_path, monkeypatch):
    canary = tmp_path / "canary"
    (tmp_path / "course_canary_module.py").write_text(f"open({str(canary)!r}, 'w').close()\nclass Thing: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    def swap_class(doc):
        doc["root"]["cls"] = "course_canary_module:Thing"

    path = tmp_path / "crafted.gen"
    path.write_bytes(_rewrite(_saved(tmp_path, "GaussianCopula"), swap_class))
    with pytest.raises(ValueError, match="not on the list"):
        Synthesizer.load(path)
    assert not canary.exists() and "course_canary_module" not in sys.modules


@pytest.mark.parametrize("edit", ["unknown node type", "sklearn class", "object array of objects"])
def test_crafted_nodes_are_refused(edit, tmp_path):
    def change(doc):
        if edit == "unknown node type":
            doc["root"]["t"] = "pickle"
        elif edit == "sklearn class":
            next(_nodes(doc, "sklearn"))["cls"] = "sklearn.svm:SVC"
        else:
            next(_nodes(doc, "objarray"))["items"][0] = {"t": "object", "cls": "builtins:eval", "id": 10**6}

    path = tmp_path / "crafted.gen"
    path.write_bytes(_rewrite(_saved(tmp_path, "CARTSynthesizer"), change))
    with pytest.raises(ValueError):
        Synthesizer.load(path)


@pytest.mark.parametrize("damage", ["child beyond the tree", "child pointing back", "one child",
                                    "feature out of range", "value shape"])
def test_a_crafted_tree_is_refused_before_it_is_built(damage, tmp_path):
    def edit(doc, arrays):
        tree = next(_nodes(doc, "sktree"))
        fields = {k: v["file"] for k, v in tree["nodes"].items()}
        left, right = arrays[fields["left_child"]], arrays[fields["right_child"]]
        inner = int(np.flatnonzero(left >= 0)[0])
        if damage == "child beyond the tree":
            left[inner] = tree["node_count"] + 1000
        elif damage == "child pointing back":
            right[inner] = inner  # a loop: the walk down the tree would never end
        elif damage == "one child":
            right[inner] = -1
        elif damage == "feature out of range":
            arrays[fields["feature"]][inner] = tree["n_features"] + 7
        else:
            arrays[tree["values"]["file"]] = arrays[tree["values"]["file"]][:-1]

    path = tmp_path / "tree.gen"
    path.write_bytes(_rewrite(_saved(tmp_path, "CARTSynthesizer"), edit_arrays=edit))
    with pytest.raises(ValueError, match="tree"):
        Synthesizer.load(path)


_FUZZ = textwrap.dedent("""
    import io, sys, zipfile
    import numpy as np
    from course_utils import persistence
    from course_utils.generators import Synthesizer
    data = open(sys.argv[1], "rb").read()
    payload = persistence.verified_payload(data)
    with zipfile.ZipFile(io.BytesIO(payload)) as zf:
        spans = [(i.header_offset, i.header_offset + 100 + i.file_size) for i in zf.infolist()]
    rng = np.random.default_rng(int(sys.argv[2]))
    outcomes = {}
    for _ in range(30):
        start, end = spans[rng.integers(len(spans))]
        damaged = bytearray(payload)
        pos = int(rng.integers(start, min(end, len(payload))))
        damaged[pos] ^= 1 << int(rng.integers(0, 8))
        try:
            gen = persistence.loads(persistence.with_header(bytes(damaged)))
            gen.sample(20)
            outcome = "sampled"
        except ValueError:
            outcome = "refused"
        except Exception as err:  # a crafted model may fail when used; it must not crash
            outcome = type(err).__name__
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    print(outcomes)
""")


@pytest.mark.parametrize("name", ["CARTSynthesizer", "GaussianCopula"])
def test_bit_flips_behind_a_recomputed_checksum_never_crash_the_interpreter(name, tmp_path):
    path = tmp_path / "gen.gen"
    path.write_bytes(_saved(tmp_path, name))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-c", _FUZZ, str(path), "3"], capture_output=True,
                          text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "refused" in done.stdout
