"""The small transformer and LanguageModelSynthesizer: the model, training, sampling, checkpoints, lesson 09's code."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from course_utils.data import load_whas500
from course_utils.generators.llm import (
    IGNORE,
    LanguageModelSynthesizer,
    TinyGPT,
    sequence_loss,
    training_step,
    warmup_cosine,
)

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "09_language_model_synthesis.ipynb"
TINY = {"d_model": 16, "n_layers": 1, "n_heads": 2, "n_permutations": 1, "batch_size": 16,
        "learning_rate": 1e-2, "verbose": False}


@pytest.fixture(scope="module")
def small():
    df, meta = load_whas500(return_metadata=True)
    cols = ["age", "gender", "bmi", "chf", "fstat"]
    return df[cols].iloc[:120].reset_index(drop=True), meta.select(cols)


@pytest.fixture(scope="module")
def fitted(small, tmp_path_factory):
    df, meta = small
    folder = tmp_path_factory.mktemp("checkpoints")
    gen = LanguageModelSynthesizer(epochs=6, checkpoint_epochs=(2, 4), checkpoint_dir=folder,
                                   random_state=0, **TINY)
    return gen.fit(df, meta), folder


# -- the model ---------------------------------------------------------------------------
@pytest.mark.parametrize("column_tokens", [None, [3, 5, 7]])
def test_attention_is_causal(column_tokens):
    torch.manual_seed(0)
    model = TinyGPT(vocab_size=12, context=10, d_model=16, n_layers=2, n_heads=4, dropout=0.0,
                    column_tokens=column_tokens).eval()
    idx = torch.randint(0, 12, (3, 10))
    changed = idx.clone()
    changed[:, 6:] = (changed[:, 6:] + 1) % 12
    a, b = model(idx), model(changed)
    assert torch.allclose(a[:, :6], b[:, :6], atol=1e-6)  # earlier positions never see later tokens
    assert not torch.allclose(a[:, 6:], b[:, 6:])


@pytest.mark.parametrize("column_tokens", [None, [2, 4, 6]])
def test_the_cache_gives_the_logits_of_a_full_pass(column_tokens):
    torch.manual_seed(1)
    model = TinyGPT(vocab_size=9, context=12, d_model=16, n_layers=2, n_heads=2, dropout=0.0,
                    column_tokens=column_tokens).eval()
    idx = torch.randint(0, 9, (4, 12))
    full = model(idx)
    cache = [{} for _ in model.blocks]
    steps = [model(idx[:, :5], cache)] + [model(idx[:, t:t + 1], cache) for t in range(5, 12)]
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)


def test_the_column_memory_marks_the_columns_written_so_far():
    torch.manual_seed(5)
    model = TinyGPT(vocab_size=10, context=8, d_model=8, n_layers=1, n_heads=2, dropout=0.0,
                    column_tokens=[4, 7, 2]).eval()
    idx = torch.tensor([[1, 4, 9, 7, 8, 4, 3, 5]])
    written = model.columns_written(idx)[0]
    expected = [[0, 0, 0], [1, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 0], [1, 1, 0], [1, 1, 0], [1, 1, 0]]
    assert written.tolist() == expected  # column order is column_tokens' order; a repeat stays 1
    before = model(idx)
    with torch.no_grad():
        model.col_emb.weight.zero_()
    assert not torch.allclose(model(idx)[:, 1:], before[:, 1:])  # the memory reaches the logits
    with pytest.raises(ValueError, match="column_tokens"):
        TinyGPT(vocab_size=10, context=8, d_model=8, n_heads=2, column_tokens=[4, 4])


def test_the_generators_memory_follows_the_columns_of_its_sentences(fitted):
    gen, _ = fitted
    text = "patient_id is 4821, age is 70, gender is male, bmi is 25.5, chf is 0, fstat is 1"
    inputs, _ = gen.encode_sentences([text])
    written = gen.model_.columns_written(inputs)[0]
    tok, names = gen.tokenizer_, gen.format_.field_names
    seen: set[str] = set()
    for t, token in enumerate(inputs[0].tolist()):
        seen |= {name for name in names if tok.vocab[token] == tok.pair_token(name)}
        assert written[t].tolist() == [float(name in seen) for name in names]
    # no masking: the model may still write a sentence that breaks the rules, and it is counted
    early = gen.at_epoch(2)
    _, report = early.parse(early.generate_text(40, random_state=0))
    assert report.n_valid < report.n_total


def test_the_column_memory_cuts_repeated_columns():
    df, meta = load_whas500(return_metadata=True)
    cols = ["age", "gender", "chf", "fstat", "afb", "cvd", "sho", "av3", "miord"]
    df, meta = df[cols].iloc[:200].reset_index(drop=True), meta.select(cols)
    repeated = {}
    for memory in (True, False):
        gen = LanguageModelSynthesizer(d_model=32, n_layers=1, n_heads=2, n_permutations=2, epochs=15,
                                       learning_rate=1e-2, column_memory=memory, temperature=1.0,
                                       verbose=False, random_state=0).fit(df, meta)
        _, report = gen.parse(gen.generate_text(300, random_state=0))
        repeated[memory] = report.reasons["repeated column"]
    # measured: 131 of 300 sentences with the memory, 286 without (sentences redrawn every epoch)
    assert repeated[True] < 0.6 * repeated[False]


def test_training_steps_learn_a_fixed_sequence():
    torch.manual_seed(2)
    model = TinyGPT(vocab_size=8, context=7, d_model=16, n_layers=1, n_heads=2, dropout=0.0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    seq = torch.tensor([[1, 3, 4, 5, 6, 7, 3, 2]] * 4)
    inputs, targets = seq[:, :-1], seq[:, 1:].clone()
    targets[:, 0] = IGNORE  # an ignored target must not count
    first = training_step(model, opt, inputs, targets)
    for _ in range(60):
        last = training_step(model, opt, inputs, targets)
    assert first > 1.5 and last < 0.1
    with torch.no_grad():
        assert abs(float(sequence_loss(model, inputs, targets)) - last) < 0.05


def _notebook_namespace() -> dict:
    """Run the cells of lesson 09 tagged ``model`` (the lesson's own transformer and training step)."""
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    cells = ["".join(c["source"]) for c in nb["cells"]
             if c["cell_type"] == "code" and "model" in c.get("metadata", {}).get("tags", [])]
    assert cells, "lesson 09 has no cell tagged 'model'"
    ns: dict = {}
    for source in cells:
        exec(compile(source, str(NOTEBOOK), "exec"), ns)  # noqa: S102 - the course's own notebook
    return ns


@pytest.mark.parametrize("column_tokens", [None, [5, 9, 11, 12]])
def test_the_lessons_transformer_is_the_package_one(column_tokens):
    ns = _notebook_namespace()
    torch.manual_seed(3)
    size = {"vocab_size": 20, "context": 16, "d_model": 32, "n_layers": 2, "n_heads": 4, "dropout": 0.0}
    ours = TinyGPT(**size, column_tokens=column_tokens).eval()
    lesson = ns["TinyGPT"](**size, column_tokens=column_tokens).eval()
    lesson.load_state_dict(ours.state_dict())  # strict: same modules, same names, same shapes
    idx = torch.randint(0, 20, (5, 16))
    assert torch.allclose(lesson(idx), ours(idx), atol=1e-6)


@pytest.mark.parametrize("column_tokens", [None, [3, 4, 8]])
def test_the_lessons_training_step_gives_the_package_losses(column_tokens):
    ns = _notebook_namespace()
    torch.manual_seed(4)
    size = {"vocab_size": 15, "context": 11, "d_model": 16, "n_layers": 2, "n_heads": 2, "dropout": 0.0}
    ours = TinyGPT(**size, column_tokens=column_tokens)
    lesson = ns["TinyGPT"](**size, column_tokens=column_tokens)
    lesson.load_state_dict(ours.state_dict())
    opt_a = torch.optim.AdamW(ours.parameters(), lr=3e-3)
    opt_b = torch.optim.AdamW(lesson.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        seq = torch.randint(0, 15, (6, 12), generator=g)
        targets = seq[:, 1:].clone()
        targets[:, -2:] = IGNORE
        a = training_step(ours, opt_a, seq[:, :-1], targets)
        b = ns["train_step"](lesson, opt_b, seq[:, :-1], targets)
        assert abs(a - b) < 1e-5


def test_padding_after_the_longest_sentence_does_not_change_the_loss():
    torch.manual_seed(5)
    model = TinyGPT(vocab_size=12, context=10, d_model=16, n_layers=2, n_heads=2, dropout=0.0,
                    column_tokens=[3, 4, 5]).eval()
    seq = torch.randint(3, 12, (4, 10))
    seq[:, 7:] = 0  # every sentence ends by position 7; the rest is padding
    targets = seq[:, 1:].clone()
    targets[targets == 0] = IGNORE
    full = sequence_loss(model, seq[:, :-1], targets)
    assert torch.allclose(sequence_loss(model, seq[:, :6], targets[:, :6]), full, atol=1e-6)
    assert not torch.allclose(sequence_loss(model, seq[:, :5], targets[:, :5]), full, atol=1e-4)


def test_training_batches_are_cut_after_their_longest_sentence(small, monkeypatch):
    from course_utils.generators import llm

    df, meta = small
    seen = []
    original = llm.training_step

    def recording(model, optimizer, inputs, targets, label_smoothing=0.0):
        seen.append(targets.clone())
        return original(model, optimizer, inputs, targets, label_smoothing)

    monkeypatch.setattr(llm, "training_step", recording)
    gen = LanguageModelSynthesizer(epochs=1, random_state=0, **TINY).fit(df, meta)
    assert all((t[:, -1] != IGNORE).any() for t in seen)  # the cut keeps the longest sentence whole
    assert max(t.shape[1] for t in seen) < gen.context_
    # a sentence's length does not depend on its order or anchor: the same targets are counted as uncut
    _, uncut = gen.encode_sentences(gen.format_.serialize_table(df, 1, True, 1))
    assert sum(int((t != IGNORE).sum()) for t in seen) == int((uncut != IGNORE).sum())


def test_the_learning_rate_warms_up_then_decays_to_zero():
    factor = warmup_cosine(total_steps=100, warmup_steps=10)
    rates = [factor(s) for s in range(100)]
    assert rates[0] == pytest.approx(0.1) and rates[9] == pytest.approx(1.0)
    assert all(a < b for a, b in zip(rates[:10], rates[1:10], strict=False))  # rising
    assert all(a >= b for a, b in zip(rates[10:], rates[11:], strict=False))  # then falling
    assert rates[55] == pytest.approx(0.5, abs=0.02) and rates[-1] < 0.001


# -- the generator -------------------------------------------------------------------------
def test_loss_falls_and_checkpoints_are_kept(fitted):
    gen, folder = fitted
    losses = [h["loss"] for h in gen.loss_history_]
    assert len(losses) == 6 and losses[-1] < 0.8 * losses[0]
    assert sorted(gen.checkpoints_) == [2, 4, 6] and gen.epoch_ == 6
    early = gen.at_epoch(2)
    assert early.epoch_ == 2 and gen.epoch_ == 6
    w_early, w_late = early.model_.head.weight, gen.model_.head.weight
    assert not torch.allclose(w_early, w_late)
    assert torch.equal(w_early, gen.checkpoints_[2]["head.weight"])
    from_disk = gen.load_checkpoint(folder / "epoch_0004.pt")
    assert from_disk.epoch_ == 4 and torch.equal(from_disk.model_.head.weight, gen.checkpoints_[4]["head.weight"])
    with pytest.raises(KeyError, match="kept"):
        gen.at_epoch(3)


def test_guided_sampling_gives_only_valid_rows(fitted, small):
    gen, _ = fitted
    df, meta = small
    guided = gen.at_epoch(6)
    guided.guided = True
    out = guided.sample(80, random_state=0)
    assert guided.validity_rate_ == 1.0 and guided.sample_report_.n_total == guided.sample_report_.n_valid
    assert len(out) == 80 and out["gender"].isin(["male", "female"]).all()
    assert out["age"].between(*meta["age"].bounds).all()


def test_unguided_sampling_counts_and_replaces_invalid_rows(fitted, small, monkeypatch):
    gen, _ = fitted
    df, _ = small
    g = gen.at_epoch(6)
    good = [g.format_.serialize(r, anchor_id=1000 + i) for i, r in enumerate(df.iloc[:40].to_dict("records"))]
    bad = [good[0].replace("gender is", "sex is"), good[1] + ", age is 50", good[2].replace("chf is", "chf")]
    stream = iter(bad + good)

    def fake_generate(n, conditions=None, random_state=None):  # the model's sentences, 3 invalid first
        return [next(stream) for _ in range(n)]

    monkeypatch.setattr(g, "generate_text", fake_generate)
    out = g.sample(20, random_state=1)
    report = g.sample_report_
    assert len(out) == 20 and report.n_total - report.n_valid == 3
    assert dict(report.reasons) == {"unknown column": 1, "repeated column": 1, "malformed pair": 1}
    assert g.validity_rate_ == pytest.approx(report.n_valid / report.n_total)
    assert out["age"].tolist() == df["age"].iloc[:20].tolist()  # the invalid rows were dropped, not repaired


def test_too_few_valid_rows_is_a_clear_error(small):
    df, meta = small
    gen = LanguageModelSynthesizer(epochs=1, learning_rate=1e-5, max_draws=1, random_state=0, **{
        k: v for k, v in TINY.items() if k != "learning_rate"}).fit(df, meta)
    with pytest.raises(RuntimeError, match="guided=True"):
        gen.sample(50)


def test_generated_text_is_the_great_format(fitted):
    gen, _ = fitted
    texts = gen.generate_text(5, random_state=0)
    assert len(texts) == 5 and all(t.startswith("patient_id is ") for t in texts)
    rows, report = gen.parse(texts)
    assert report.n_total == 5 and len(rows) == report.n_valid


def test_conditions_are_written_into_the_prompt(fitted):
    gen, _ = fitted
    g = gen.at_epoch(6)
    g.guided = True
    out = g.sample(30, conditions={"gender": "female", "age": 70}, random_state=0)
    assert (out["gender"] == "female").all() and (out["age"] == 70).all()
    texts = g.generate_text(3, conditions={"gender": "female"}, random_state=0)
    assert all(", gender is female, " in t for t in texts)
    with pytest.raises(ValueError, match="decimal"):
        g.sample(5, conditions={"bmi": 25.55})
    with pytest.raises(ValueError, match="every column"):
        g.sample(5, conditions={"age": 70, "gender": "male", "bmi": 25.5, "chf": 0, "fstat": 1})


def test_anchor_digits_and_padding_are_not_predicted(fitted):
    gen, _ = fitted
    text = "patient_id is 4821, age is 70, gender is male, bmi is 25.5, chf is 0, fstat is 1"
    inputs, targets = gen.encode_sentences([text])
    tok = gen.tokenizer_
    words = [tok.vocab[i] for i in inputs[0].tolist()]
    assert words[:4] == ["<bos>", "patient_id is ", "4", "8"] and words[6:8] == [", ", "age is "]
    ignored = [tok.vocab[int(inputs[0, j + 1])] for j in range(inputs.shape[1] - 1) if targets[0, j] == IGNORE]
    assert ignored[:4] == ["4", "8", "2", "1"] and set(ignored[4:]) == {"<pad>"}
    assert tok.vocab[int(targets[0, 5])] == ", "  # the separator after the anchor is learnt


def test_same_seed_same_sentences(small):
    df, meta = small
    a = LanguageModelSynthesizer(epochs=1, random_state=5, **TINY).fit(df, meta)
    b = LanguageModelSynthesizer(epochs=1, random_state=5, **TINY).fit(df, meta)
    assert a.generate_text(10, random_state=1) == b.generate_text(10, random_state=1)


def test_temperature_and_top_k_narrow_the_draws(fitted):
    gen, _ = fitted
    cold = gen.at_epoch(6)
    cold.guided, cold.temperature, cold.top_k = True, 0.3, 1
    warm = gen.at_epoch(6)
    warm.guided = True
    assert cold.sample(60, random_state=0)["age"].nunique() < warm.sample(60, random_state=0)["age"].nunique()


def test_row_loss_is_lower_for_memorised_rows(small):
    df, meta = small
    train, new = df.iloc[:30].reset_index(drop=True), df.iloc[60:90].reset_index(drop=True)
    gen = LanguageModelSynthesizer(epochs=60, d_model=32, n_layers=1, n_heads=2, dropout=0.0,
                                   learning_rate=3e-3, batch_size=8, verbose=False, random_state=0)
    gen.fit(train, meta)
    assert gen.row_loss(train).mean() < gen.row_loss(new).mean() - 0.1


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"d_model": 30, "n_heads": 4}, "multiple"),
    ({"epochs": 0}, "epochs"),
    ({"temperature": 0}, "temperature"),
    ({"top_k": 0}, "top_k"),
    ({"dropout": 1.0}, "dropout"),
    ({"checkpoint_epochs": (9,), "epochs": 3}, "checkpoint_epochs"),
    ({"lr_schedule": "linear"}, "lr_schedule"),
    ({"warmup": 1.5}, "warmup"),
    ({"label_smoothing": -0.1}, "label_smoothing"),
    ({"column_memory": "yes"}, "column_memory"),
])
def test_bad_settings_are_named(small, kwargs, match):
    df, meta = small
    with pytest.raises(ValueError, match=match):
        LanguageModelSynthesizer(**{**TINY, **kwargs}).fit(df, meta)


def test_a_checkpoint_file_of_another_model_is_refused(fitted, tmp_path):
    gen, folder = fitted
    other = TinyGPT(vocab_size=5, context=4, d_model=8, n_layers=1, n_heads=2)
    torch.save(other.state_dict(), tmp_path / "epoch_0001.pt")  # bare weights: the first file format
    with pytest.raises(ValueError, match="retrain"):
        gen.load_checkpoint(tmp_path / "epoch_0001.pt")
    data = torch.load(folder / "epoch_0002.pt", weights_only=True)
    torch.save({**data, "version": 1}, tmp_path / "epoch_0002.pt")
    with pytest.raises(ValueError, match="version 1"):
        gen.load_checkpoint(tmp_path / "epoch_0002.pt")
    torch.save({**data, "vocab": data["vocab"][:-1] + ["purple"]}, tmp_path / "epoch_0003.pt")
    with pytest.raises(ValueError, match="another vocabulary"):
        gen.load_checkpoint(tmp_path / "epoch_0003.pt")
    before_memory = {k: v for k, v in data.items() if k not in ("checkpoint_version", "column_memory")}
    torch.save(before_memory, tmp_path / "epoch_0004.pt")  # a file written before the column memory
    with pytest.raises(ValueError, match="version 1.*retrain"):
        gen.load_checkpoint(tmp_path / "epoch_0004.pt")
    torch.save({**data, "column_memory": False}, tmp_path / "epoch_0005.pt")
    with pytest.raises(ValueError, match="column_memory=False"):
        gen.load_checkpoint(tmp_path / "epoch_0005.pt")


def test_a_generator_with_the_first_tokeniser_asks_to_retrain(fitted):
    gen, _ = fitted
    old = gen.at_epoch(6)
    old.tokenizer_ = copy.copy(old.tokenizer_)
    del old.tokenizer_.version  # what a generator saved with the first tokeniser brings back
    with pytest.raises(ValueError, match="retrain"):
        old.sample(5)


def test_missing_values_come_back_at_their_rate(small):
    df, meta = small
    df = df.copy()
    df["bmi"] = df["bmi"].where(np.arange(len(df)) % 4 != 0)
    gen = LanguageModelSynthesizer(epochs=12, random_state=0, guided=True, **TINY).fit(df)
    out = gen.sample(200, random_state=0)
    assert 0.1 < out["bmi"].isna().mean() < 0.45
    assert isinstance(out, pd.DataFrame) and out["age"].notna().all()


def test_the_benchmark_recommends_by_the_lessons_rule():
    from course_utils.benchmarks.llm import recommend
    from course_utils.checks.lesson09 import CHECKPOINT_FIGURES

    assert recommend(CHECKPOINT_FIGURES) == 40
    assert recommend(CHECKPOINT_FIGURES, max_dcr=0.6, max_mia=0.6) == 80
    assert recommend(CHECKPOINT_FIGURES, max_dcr=0.4) is None


def _benchmark_part(seed: int, validity: float) -> dict:
    rows = [{"seed": seed, "epoch": e, "validity_unguided": validity, "rejected_unguided": {},
             "validity_guided": 1.0, "text_1000_s": 1.0, "metrics_decoding": "unguided", "sample_1000_s": 5.0,
             "fidelity": f, "trtr_auc": 0.92, "tstr_auc": 0.92 - gap, "tstr_gap": gap, "dcr_share": d, "mia_auc": d}
            for e, f, gap, d in [(20, 0.90, 0.10, 0.50), (80, 0.94, 0.03, 0.52)]]
    refs = [{"generator": "CART leaf 10", "seed": seed, "fidelity": 0.95},
            {"generator": "holdout (ceiling)", "fidelity": 0.93}]
    return {"quick": False, "seeds": [seed], "settings": {"epochs": 80}, "fits": [
        {"seed": seed, "train_s": 100.0 + seed, "train_cpu_s": 90.0, "final_loss": 1.0}],
        "checkpoints": rows, "references": refs, "load_average_at_end": [1.0, 1.0, 1.0]}


def test_the_benchmark_combines_seeds_measured_apart(tmp_path):
    from course_utils.benchmarks.llm import _part_of, main, summarise

    result = summarise([_benchmark_part(0, 0.90), _benchmark_part(1, 1.0)])
    assert result["seeds"] == [0, 1] and result["recommended_epoch"] == 80
    assert result["verdict"]["validity_unguided"] == {"value": pytest.approx(0.95), "met": True}
    assert result["verdict"]["train_s"]["value"] == 101.0
    assert [r["generator"] for r in result["references"]].count("holdout (ceiling)") == 1
    files = []
    for seed, validity in [(0, 0.80), (1, 0.90)]:
        files.append(tmp_path / f"part{seed}.json")
        files[-1].write_text(json.dumps(summarise([_benchmark_part(seed, validity)])), encoding="utf-8")
    assert _part_of(json.loads(files[0].read_text()))["fits"] == _benchmark_part(0, 0.8)["fits"]
    main(["--combine", *map(str, files), "--out", str(tmp_path / "all.json")])
    combined = json.loads((tmp_path / "all.json").read_text())
    assert combined["seeds"] == [0, 1] and combined["verdict"]["validity_unguided"]["met"] is False
    assert combined["commands"][-1].startswith("python -m course_utils benchmark llm --combine ")
    with pytest.raises(ValueError, match="different settings"):
        summarise([_benchmark_part(0, 0.9), {**_benchmark_part(1, 0.9), "settings": {"epochs": 40}}])


@pytest.mark.parametrize(("redraw", "draws"), [(False, 1), (True, 3)])
def test_redraw_writes_new_sentences_before_each_epoch(small, monkeypatch, redraw, draws):
    from course_utils.generators.text_rows import RowFormat

    df, meta = small
    written = []
    original = RowFormat.serialize_table

    def counting(self, *args, **kwargs):
        written.append(original(self, *args, **kwargs))
        return written[-1]

    monkeypatch.setattr(RowFormat, "serialize_table", counting)
    LanguageModelSynthesizer(epochs=3, redraw=redraw, random_state=0, **TINY).fit(df, meta)
    assert len(written) == draws
    if redraw:  # new orders and anchors, the same patients
        assert written[0] != written[1]
        assert sorted(len(t) for t in written[0]) == sorted(len(t) for t in written[1])


def test_a_generator_file_saved_before_the_column_memory_loads_and_samples(small, tmp_path):
    df, meta = small
    old = LanguageModelSynthesizer(epochs=2, column_memory=False, guided=True, random_state=0, **TINY).fit(df, meta)
    del old.column_memory  # files written before the setting existed do not hold it
    path = old.save(tmp_path / "old.cugen")
    back = LanguageModelSynthesizer.load(path)
    assert back.get_params()["column_memory"] is False
    assert not back.model_.column_memory
    pd.testing.assert_frame_equal(back.sample(5, random_state=1), old.sample(5, random_state=1))
