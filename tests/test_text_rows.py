"""Rows as sentences: the GReaT format, strict parsing, the tokeniser and the grammar of valid sentences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_utils.data import STROKE_GROUPS, load_stroke, load_veterans, load_whas500
from course_utils.generators.text_grammar import RowGrammar
from course_utils.generators.text_rows import (
    INSTRUCTION,
    RowFormat,
    RowParseError,
    RowTokenizer,
)
from course_utils.schema import infer_metadata


@pytest.fixture(scope="module")
def whas():
    df, meta = load_whas500(return_metadata=True)
    return df, meta, RowFormat().fit(df, meta)


@pytest.fixture(scope="module")
def veterans_missing():
    df = load_veterans().copy()
    df.loc[::5, "Karnofsky_score"] = np.nan
    df.loc[1::7, "Celltype"] = np.nan
    meta = infer_metadata(df)
    return df, meta, RowFormat().fit(df, meta)


def test_a_row_is_written_as_great_does(whas):
    df, _, fmt = whas
    text = fmt.serialize(df.iloc[0].to_dict(), anchor_id=1234)
    assert text.startswith("patient_id is 1234, afb is 1, age is 83, av3 is 0, bmi is 25.5, ")
    assert text.endswith("fstat is 0, lenfol is 2178")
    # be_great reads a sentence by splitting on "," and then on " is "
    pairs = dict(p.strip().split(" is ") for p in text.split(","))
    assert pairs["gender"] == "male" and pairs["mitype"] == "non Q-wave" and len(pairs) == 17


def test_round_trip_in_any_order(whas):
    df, meta, fmt = whas
    texts = fmt.serialize_table(df.iloc[:50], n_permutations=2, random_state=0)
    assert len(texts) == 100
    back, report = fmt.parse_many(texts)
    assert report.n_valid == 100 and report.validity_rate == 1.0
    expected = pd.concat([df.iloc[:50]] * 2, ignore_index=True)
    for col in meta.names:
        if col == "bmi":  # one decimal, kept inside the bounds (13.04 is written 13.1, not 13.0)
            diff = np.abs(back[col].astype(float) - expected[col].round(1))
            assert (diff < 1e-9).mean() > 0.95 and diff.max() <= 0.1 + 1e-9
        else:
            assert (back[col].astype(str) == expected[col].astype(str)).all(), col


def test_permutations_shuffle_the_pairs_and_permute_false_keeps_the_table_order(whas):
    df, meta, fmt = whas
    firsts = {t.split(", ")[1].split(" is ")[0] for t in fmt.serialize_table(df.iloc[:40], 3, random_state=1)}
    assert len(firsts) > 5
    fixed = fmt.serialize_table(df.iloc[:40], 3, permute=False, random_state=1)
    assert {t.split(", ")[1].split(" is ")[0] for t in fixed} == {meta.names[0]}
    assert fmt.serialize_table(df.iloc[:5], 2, random_state=4) == fmt.serialize_table(df.iloc[:5], 2, random_state=4)


@pytest.mark.parametrize(("edit", "reason"), [
    (lambda t: t.replace(", age is 83", ""), "missing column"),
    (lambda t: t + ", age is 60", "repeated column"),
    (lambda t: t + ", weight is 60", "unknown column"),
    (lambda t: t.replace("gender is male", "gender is unknown"), "unknown category"),
    (lambda t: t.replace("age is 83", "age is 083"), "malformed number"),
    (lambda t: t.replace("age is 83", "age is 8e1"), "malformed number"),
    (lambda t: t.replace("bmi is 25.5", "bmi is 25.50"), "malformed number"),
    (lambda t: t.replace("bmi is 25.5", "bmi is 25"), "malformed number"),
    (lambda t: t.replace("age is 83", "age is 130"), "out of range"),
    (lambda t: t.replace("afb is 1", "afb is 2"), "out of range"),
    (lambda t: t.replace("age is 83", "age is nan"), "missing value"),
    (lambda t: t.replace("age is 83", "age 83"), "malformed pair"),
])
def test_invalid_sentences_are_rejected_with_their_reason(whas, edit, reason):
    df, _, fmt = whas
    good = fmt.serialize(df.iloc[0].to_dict(), anchor_id=1234)
    fmt.parse(good)
    with pytest.raises(RowParseError) as err:
        fmt.parse(edit(good))
    assert err.value.reason == reason
    assert isinstance(err.value, ValueError)
    rows, report = fmt.parse_many([good, edit(good), good])
    assert len(rows) == 2 and report.n_total == 3 and report.reasons == {reason: 1}


def test_missing_values_are_written_nan_and_read_back(veterans_missing):
    df, _, fmt = veterans_missing
    texts = fmt.serialize_table(df, 1, permute=False, random_state=0)
    assert "Karnofsky_score is nan" in texts[0]
    back, report = fmt.parse_many(texts)
    assert report.validity_rate == 1.0
    assert back["Karnofsky_score"].isna().sum() == df["Karnofsky_score"].isna().sum()
    assert back["Celltype"].isna().sum() == df["Celltype"].isna().sum()


def test_a_one_hot_group_is_one_pair():
    cols = STROKE_GROUPS["Hospital"] + ["Male", "Age"]
    df = load_stroke()[cols].iloc[:30].reset_index(drop=True)
    meta = infer_metadata(df, one_hot_groups={"Hospital": STROKE_GROUPS["Hospital"]})
    fmt = RowFormat().fit(df, meta)
    assert fmt.field_names == ["Hospital", "Male", "Age"]
    text = fmt.serialize(df.iloc[0].to_dict())
    member = df.iloc[0][STROKE_GROUPS["Hospital"]].idxmax()
    assert text.startswith(f"Hospital is {member}, ")
    back, report = fmt.parse_many(fmt.serialize_table(df, 1, random_state=0))
    assert report.validity_rate == 1.0
    pd.testing.assert_frame_equal(back.astype(int), df.astype(int))
    with pytest.raises(RowParseError, match="Hospital"):
        fmt.parse(text.replace(f"Hospital is {member}", "Hospital is Male"))


def test_instruction_prefix(whas):
    df, meta, _ = whas
    fmt = RowFormat(instruction=True).fit(df, meta)
    text = fmt.serialize(df.iloc[0].to_dict(), anchor_id=4821)
    assert text.startswith(INSTRUCTION + "patient_id is 4821, ")
    assert fmt.parse(text)["age"] == 83


@pytest.mark.parametrize(("frame", "match"), [
    (pd.DataFrame({"a, b": [1, 2], "c": [0, 1]}), "a, b"),
    (pd.DataFrame({"size": ["big is good", "small"], "c": [0, 1]}), "size"),
    (pd.DataFrame({"when": pd.to_datetime(["2020-01-01", "2021-01-01"]), "c": [0, 1]}), "when"),
    (pd.DataFrame({"patient_id": [1, 2], "c": [0, 1]}), "patient_id"),
])
def test_tables_that_cannot_be_written_unambiguously_are_refused(frame, match):
    with pytest.raises(ValueError, match=match):
        RowFormat().fit(frame)


def test_continuous_columns_get_the_decimals_of_the_data():
    df = pd.DataFrame({"whole": [1.0, 2.0, 5.0], "half": [0.5, 1.5, 2.0], "fine": [0.123, 1.456, 2.0]})
    fmt = RowFormat(max_decimals=2).fit(df)
    assert [fmt.field(c).precision for c in df.columns] == [0, 1, 2]
    assert fmt.serialize(df.iloc[2].to_dict()) == "whole is 5, half is 2.0, fine is 2.00"


def test_tokenizer_has_one_token_per_pair_start_and_category_and_digits_for_numbers(whas):
    df, meta, fmt = whas
    tok = RowTokenizer.from_format(fmt)
    text = fmt.serialize(df.iloc[0].to_dict(), anchor_id=1234)
    ids = tok.encode(text)
    assert ids[0] == tok.bos_id and ids[-1] == tok.eos_id
    assert tok.decode(ids) == text
    words = [tok.vocab[i] for i in ids]
    assert words[1:7] == ["patient_id is ", "1", "2", "3", "4", ", "]
    assert "non Q-wave" in words and "mitype is " in words and "mitype" not in words
    at = words.index("lenfol is ")
    assert words[at + 1: at + 6] == ["2", "1", "7", "8", "<eos>"]  # lenfol is the last column
    # specials, ", ", nan, "-" and ".", digits, the anchor, one "name is " per column, categories
    assert len(tok) == 3 + 1 + 1 + 2 + 10 + 1 + len(meta.names) + 6
    no_anchor = RowFormat(anchor=None).fit(df, meta)
    text = no_anchor.serialize(df.iloc[0].to_dict())
    assert [tok.vocab[i] for i in tok.encode(text)][1] == "afb is " and tok.decode(tok.encode(text)) == text
    with pytest.raises(ValueError, match="no token"):
        tok.encode("age is 83, weight is 70")
    again = RowTokenizer.from_dict(tok.to_dict())
    assert again.vocab == tok.vocab
    with pytest.raises(ValueError, match="RowTokenizer"):
        RowTokenizer.from_dict({"format": "pickle", "vocab": []})
    with pytest.raises(ValueError, match="version 1.*retrain"):  # the first vocabulary: ", " and " is " apart
        RowTokenizer.from_dict({**tok.to_dict(), "version": 1})


def test_a_category_only_in_other_data_has_no_token(whas):
    df, _, _ = whas
    small = df[df["mitype"] == "Q-wave"][["age", "mitype"]].reset_index(drop=True)
    small["mitype"] = small["mitype"].astype(str)
    tok = RowTokenizer.from_format(RowFormat().fit(small))
    assert "Q-wave" in tok.index and "non Q-wave" not in tok.index


@pytest.mark.parametrize("which", ["whas", "veterans_missing"])
def test_every_walk_through_the_grammar_is_a_valid_row(which, request):
    df, meta, fmt = request.getfixturevalue(which)
    tok = RowTokenizer.from_format(fmt)
    grammar = RowGrammar(fmt, tok)
    rng = np.random.default_rng(0)
    texts = []
    for _ in range(150):
        prompt = tok.encode("patient_id is 1234", eos=False)
        state = grammar.start()
        for t in prompt[1:]:
            grammar.advance(state, t)
        ids = list(prompt)
        while not state["done"]:
            t = int(rng.choice(grammar.allowed(state)))
            grammar.advance(state, t)
            ids.append(t)
        texts.append(tok.decode(ids))
    rows, report = fmt.parse_many(texts)
    assert report.validity_rate == 1.0, report.reasons
    assert rows[meta.names[0]].nunique() > 1


def test_the_grammar_forbids_a_column_already_used(whas):
    _, _, fmt = whas
    tok = RowTokenizer.from_format(fmt)
    grammar = RowGrammar(fmt, tok)
    state = grammar.start()
    for t in tok.encode("patient_id is 1234, age is 83", eos=False)[1:]:
        grammar.advance(state, t)
    # "83" is a whole age and no digit may follow it (age runs up to 104): only the separator
    assert [tok.vocab[i] for i in grammar.allowed(state)] == [", "]
    grammar.advance(state, tok.id(", "))
    allowed = {tok.vocab[i] for i in grammar.allowed(state)}
    assert "age is " not in allowed and "gender is " in allowed and "<eos>" not in allowed
    grammar.advance(state, tok.id("bmi is "))
    # bmi runs from 13.1 to 44.8: it starts with 1 to 4, never with "-" or "nan"
    assert {tok.vocab[i] for i in grammar.allowed(state)} == set("1234")


def test_the_tokenizer_takes_the_longest_token_at_each_position():
    tok = RowTokenizer(["<pad>", "<bos>", "<eos>", "a", "ab", "abc", "b", "c"])
    assert [tok.vocab[i] for i in tok.encode("abcabba", bos=False, eos=False)] == ["abc", "ab", "b", "a"]
    assert tok.encode("") == [tok.bos_id, tok.eos_id]
    with pytest.raises(ValueError, match="position 2: 'd'"):
        tok.encode("abd")
    with pytest.raises(ValueError, match="position 3: 'x'"):
        tok.encode("abcx")
