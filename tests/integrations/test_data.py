"""Rollout tables in and out: the same rows and columns through every format."""

from __future__ import annotations

import numpy as np
import pytest

from rewardsmith import advantages
from rewardsmith.integrations import data as rd

ROWS = [
    {"prompt": "1+1?", "completion": "<think>a</think><answer>2</answer>", "answer": "2", "group": 0},
    {"prompt": "1+1?", "completion": "<think>a</think><answer>3</answer>", "answer": "2", "group": 0},
    {"prompt": "2+2?", "completion": "four", "answer": "4", "group": 1},
    {"prompt": "2+2?", "completion": "<think>b</think><answer>4</answer>", "answer": "4", "group": 1},
]


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_files_round_trip(tmp_path, suffix):
    path = rd.write_rollouts(ROWS, tmp_path / f"r{suffix}")
    assert rd.read_rollouts(path) == ROWS


def test_datasets_pyarrow_pandas_and_columns_give_the_same_rows():
    ds = rd.to_dataset(ROWS)
    assert type(ds).__name__ == "Dataset" and ds.column_names == ["prompt", "completion", "answer", "group"]
    assert rd.read_rollouts(ds) == ROWS
    assert rd.read_rollouts(rd.to_table(ROWS)) == ROWS
    assert rd.read_rollouts(rd.to_table(ds)) == ROWS
    assert rd.read_rollouts(rd.to_table(ds.select([2, 0]))) == [ROWS[2], ROWS[0]]
    assert rd.read_rollouts(ds.to_pandas()) == ROWS
    assert rd.read_rollouts({k: [r[k] for r in ROWS] for k in ROWS[0]}) == ROWS
    from datasets import DatasetDict

    dd = DatasetDict({"train": ds, "test": ds.select([0])})
    assert rd.read_rollouts(dd, split="test") == ROWS[:1]
    with pytest.raises(ValueError, match="splits .*train.*test.*pass split"):
        rd.read_rollouts(dd)


def test_rename_and_required_columns():
    theirs = [{"response": r["completion"], "solution": r["answer"]} for r in ROWS]
    rows = rd.read_rollouts(theirs, rename={"response": "completion", "solution": "answer"})
    assert [r["completion"] for r in rows] == [r["completion"] for r in ROWS]
    with pytest.raises(ValueError, match=r"rows\[0\]: missing column\(s\) \['completion'\]; it has \['response', 'solution'\]"):
        rd.read_rollouts(theirs)
    with pytest.raises(ValueError, match="not rewardsmith columns"):
        rd.read_rollouts(theirs, rename={"response": "text"})


def test_group_ids_from_group_or_prompt():
    np.testing.assert_array_equal(rd.group_ids(ROWS), [0, 0, 1, 1])
    no_group = [{k: v for k, v in r.items() if k != "group"} for r in ROWS]
    np.testing.assert_array_equal(rd.group_ids(no_group), [0, 0, 1, 1])
    with pytest.raises(ValueError, match=r"rows\[0\]: no 'group' or 'prompt'"):
        rd.group_ids([{"completion": "x"}])


def test_add_scores_keeps_the_input_kind(seed_rules):
    expected_r = [1.0, -0.5, -2.0, 1.0]
    expected_l = ["correct", "wrong_answer", "bad_format", "correct"]
    adv = advantages.compute("rank", np.array(expected_r), group_size=2).tolist()
    rows = rd.add_scores(seed_rules, ROWS, estimator="rank", workers=0)
    assert [r["reward"] for r in rows] == expected_r and [r["label"] for r in rows] == expected_l
    assert [r["advantage"] for r in rows] == adv
    ds = rd.add_scores(seed_rules, rd.to_dataset(ROWS), workers=0)
    assert type(ds).__name__ == "Dataset" and ds["reward"] == expected_r and ds["label"] == expected_l
    table = rd.add_scores(seed_rules, rd.to_table(ROWS), estimator="rank", workers=0)
    assert table.column("advantage").to_pylist() == adv
    df = rd.add_scores(seed_rules, rd.to_table(ROWS).to_pandas(), workers=0)
    assert df["label"].tolist() == expected_l


def test_unsupported_input_is_named():
    with pytest.raises(ValueError, match="data: expected a path .* got int"):
        rd.read_rollouts(3)
    with pytest.raises(ValueError, match=r"rows\[1\]: expected a dict per row, got str"):
        rd.read_rollouts([{"completion": "a"}, "b"])


def test_add_scores_passes_other_columns_as_fields(table_scorer):
    sc = table_scorer({"a": 1.0})
    rd.add_scores(sc, [{"completion": "a", "prompt": "p", "num_tokens": 7}])
    assert sc.last_fields == {"num_tokens": [7]}
