"""The shipped hand-labeled real completions (``real_completions.jsonl``): enough smollm2-135m rows,
every proposition labeled on every row, no duplicate completions, labels consistent with each
other and with the text, and the file rebuilt from ``real/samples.jsonl`` + ``real/labels.tsv``."""

from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter

import pytest

from rewardsmith.graders.data import shipped_data_path
from rewardsmith.graders.judge_propositions import load_propositions
from rewardsmith.graders.propositions import ARITHMETIC_CLASSES

PROPS = [p.name for p in load_propositions()]


@pytest.fixture(scope="module")
def rows():
    return [json.loads(x) for x in shipped_data_path("real_completions.jsonl").read_text().splitlines() if x.strip()]


def test_at_least_300_smollm2_rows_over_many_prompts(rows):
    smol = [r for r in rows if r["source"] == "smollm2-135m"]
    assert len(smol) >= 300
    assert len({r["prompt_id"] for r in smol}) >= 40
    # the three chat prompt styles of the trainer and the earlier free-form prompt are all there
    assert {r["task"] for r in smol} >= {"arith", "word", "arith-words/user", "arith-words/system",
                                        "arith-words/system+example"}


def test_every_row_has_every_proposition_labeled_true_or_false(rows):
    for i, r in enumerate(rows):
        for p in PROPS:
            assert type(r.get(p)) is bool, f"row {i}: {p} = {r.get(p)!r}"
        assert type(r["correct"]) is bool, f"row {i}: correct = {r['correct']!r}"
        assert r["rank_class"] in ARITHMETIC_CLASSES, f"row {i}: rank_class = {r['rank_class']!r}"
        assert r["source"] and r["prompt_id"] and r["prompt"] and r["answer"], f"row {i}: empty field"


def test_no_duplicate_completions_among_smollm2_rows(rows):
    texts = Counter(r["text"] for r in rows if r["source"] == "smollm2-135m")
    assert [t for t, n in texts.items() if n > 1] == []


def test_labels_vary_on_the_smollm2_rows(rows):
    """The smollm2 rows are there to measure recall: each of the common propositions needs
    positives and negatives, and the rows span the reward classes."""
    smol = [r for r in rows if r["source"] == "smollm2-135m"]
    for p in ("shows_reasoning", "single_answer", "restates_question", "repeats_itself", "off_topic"):
        n = sum(r[p] for r in smol)
        assert 5 <= n <= len(smol) - 5, f"{p}: {n} of {len(smol)} true"
    assert len({r["rank_class"] for r in smol}) >= 4


def _numbers(text: str) -> set[str]:
    return {m.replace(",", "") for m in re.findall(r"-?\d[\d,]*", text)}


def test_labels_agree_with_each_other_and_with_the_text(rows):
    """A labeling slip caught mechanically: a row called correct must commit to one answer and
    contain the gold number; a right committed answer is never the class ``wrong``; a wrong one
    is never ``ideal``/``terse``/``padded``."""
    for i, r in enumerate(rows):
        if r["correct"]:
            assert r["single_answer"], f"row {i}: correct without a single committed answer"
            assert r["answer"] in _numbers(r["text"]), f"row {i}: correct but {r['answer']} is not in the text"
            assert r["rank_class"] not in ("wrong",), f"row {i}: correct but class wrong"
        else:
            assert r["rank_class"] not in ("ideal", "terse", "padded"), f"row {i}: wrong but class {r['rank_class']}"
        if r["rank_class"] == "ideal":
            assert r["shows_reasoning"], f"row {i}: ideal without reasoning"


def test_data_file_is_built_from_samples_and_labels():
    path = shipped_data_path("real/build.py")
    spec = importlib.util.spec_from_file_location("_real_build", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.PROPS == tuple(PROPS)
    assert mod.build() == shipped_data_path("real_completions.jsonl").read_text()
