"""``rewardsmith stages``, ``simplex`` and ``demo`` through typer's CliRunner."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from rewardsmith.cli import app

runner = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n"


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def by_hand(tiers, counts, ddof, eps):
    t, c = np.asarray(tiers, float), np.asarray(counts, float)
    mean = (c * t).sum() / c.sum()
    std = math.sqrt((c * (t - mean) ** 2).sum() / (c.sum() - ddof))
    return (t - mean) / (std + eps)


def table_rows(output):
    """Rows of the rich tables keyed by their first mix cell ("1/9/90"): that cell and the rest."""
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃]", line) if c.strip()]
        for i, cell in enumerate(cells[:2]):
            if re.fullmatch(r"\d+(/\d+)+", cell):
                rows.setdefault(cell, cells[i:])
                break
    return rows


def check_stages(out_dir, output, ddof, eps):
    """JSON agrees with a recomputation from its own counts and tiers, and with the table."""
    data = json.loads((out_dir / "stages.json").read_text())
    assert (out_dir / "stages.png").read_bytes()[:8] == PNG
    labels = list(data["tiers"])
    tiers = [data["tiers"][k] for k in labels]
    rows = table_rows(output)
    for st in data["stages"]:
        want = by_hand(tiers, st["counts"], ddof, eps)
        got = [st["advantage"][k] for k in labels]
        np.testing.assert_allclose(got, want, rtol=1e-9)
        assert st["normalized_values"] == pytest.approx(sorted(set(np.round(want, 9))))
        assert st["normalized_min"] == pytest.approx(min(want))
        assert st["normalized_max"] == pytest.approx(max(want))
        assert st["raw_values"] == sorted(tiers)
        assert st["ddof"] == ddof
        row = rows["/".join(map(str, st["counts"]))]
        assert row[3 : 3 + len(labels)] == [f"{a:+.2f}" for a in got]
    return data


def test_stages_defaults_reproduce_the_seed(tmp_path):
    res = invoke("stages", "--out", tmp_path)
    assert res.exit_code == 0, res.output
    data = check_stages(tmp_path, res.output, ddof=0, eps=1e-6)
    assert data["estimator"] == "grpo" and data["eps"] == 1e-6
    assert [s["counts"] for s in data["stages"]] == [[1, 9, 90], [1, 49, 50], [49, 50, 1], [90, 9, 1]]
    assert round(data["stages"][0]["advantage"]["correct"], 2) == 5.50
    assert round(data["stages"][3]["advantage"]["bad_format"], 2) == -5.50
    assert data["pooled"]["distinct_raw"] == 3
    assert data["pooled"]["distinct_normalized"] == 12
    rows = table_rows(res.output)
    assert rows["1/9/90"][3] == "+5.50" and rows["90/9/1"][5] == "-5.50"
    assert "3 distinct raw values -> 12 distinct normalized values" in res.output
    for v in data["pooled"]["normalized_values"]:
        assert f"{v:+.2f}" in res.output
    assert str(tmp_path / "stages.png") in res.output


def test_stages_ddof1_gives_trl_number(tmp_path):
    res = invoke("stages", "--ddof", 1, "--eps", 1e-4, "--out", tmp_path)
    assert res.exit_code == 0, res.output
    data = check_stages(tmp_path, res.output, ddof=1, eps=1e-4)
    assert data["stages"][0]["advantage"]["correct"] == pytest.approx(5.475686917883133)
    assert table_rows(res.output)["1/9/90"][3] == "+5.48"
    res = invoke("stages", "--ddof", 1, "--out", tmp_path)  # default eps 1e-6: 5.4767
    assert table_rows(res.output)["1/9/90"][3] == "+5.48"
    check_stages(tmp_path, res.output, ddof=1, eps=1e-6)


def test_stages_custom_stages_and_tiers(tmp_path):
    res = invoke(
        "stages", "--stage", "2,3,5", "--stage", "5,0,5",
        "--tiers", "2,0,-1", "--labels", "good,meh,bad", "--out", tmp_path,
    )
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "stages.json").read_text())
    assert list(data["tiers"]) == ["good", "meh", "bad"]
    assert data["stages"][1]["advantage"]["meh"] is None
    np.testing.assert_allclose(
        [data["stages"][0]["advantage"][k] for k in ("good", "meh", "bad")],
        by_hand((2, 0, -1), (2, 3, 5), 0, 1e-6),
    )
    row = table_rows(res.output)["5/0/5"]
    assert row[3:6] == ["+1.00", "-", "-1.00"]


def test_stages_other_estimator_has_no_ddof(tmp_path):
    res = invoke("stages", "--estimator", "dr_grpo", "--out", tmp_path)
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "stages.json").read_text())
    assert data["ddof"] is None and data["options"] == {}
    assert data["stages"][0]["advantage"]["correct"] == pytest.approx(2.835)
    assert table_rows(res.output)["1/9/90"][3] == "+2.83"  # 2.835 in binary is 2.83499...


@pytest.mark.parametrize(
    "args,needle",
    [
        (["stages", "--stage", "1,x,90"], "'x'"),
        (["stages", "--stage", "1,-9,90"], "-9"),
        (["stages", "--stage", "1,0,0"], "at least 2 samples"),
        (["stages", "--stage", "1,9"], "expected 3 counts"),
        (["stages", "--estimator", "ppo"], "'ppo'"),
        (["stages", "--ddof", "2"], "ddof"),
        (["stages", "--tiers", "1,oops,-2"], "'oops'"),
        (["stages", "--tiers", "1,0"], "--stage"),
        (["simplex", "--estimator", "ppo"], "'ppo'"),
        (["simplex", "--tiers", "1,0"], "exactly 3"),
        (["simplex", "--group-size", "1"], "from 2 to"),
        (["simplex", "--mark", "1,2"], "expected 3 counts"),
    ],
)
def test_bad_input_exits_nonzero_naming_the_value(tmp_path, args, needle):
    res = invoke(*args, "--out", tmp_path)
    assert res.exit_code != 0
    text = re.sub(r"[\s│╭╮╰╯─]+", " ", res.output)
    assert needle in text, res.output
    assert not (tmp_path / "stages.json").exists() and not (tmp_path / "simplex.json").exists()


def test_simplex_default_summary(tmp_path):
    res = invoke("simplex", "--out", tmp_path)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "simplex.png").read_bytes()[:8] == PNG
    data = json.loads((tmp_path / "simplex.json").read_text())
    assert data["group_size"] == 100 and len(data["grid"]) == 5151
    summ = data["summary"]["tiers"]["wrong_answer"]
    assert summ["n_positive"] == 2500 and summ["n_mixes_present"] == 5050
    n_pos = 0
    for row in data["grid"]:
        a, b, c = row["counts"]
        adv = row["advantage"]["wrong_answer"]
        if b == 0:
            assert adv is None
            continue
        assert adv == pytest.approx(by_hand((1, -0.5, -2), (a, b, c), 0, 1e-6)[1], abs=1e-9)
        n_pos += adv > 1e-9
        assert (adv > 1e-9) == (c > a)
    assert n_pos == 2500
    row = next(r for r in data["grid"] if r["counts"] == [3, 3, 94])
    assert round(row["advantage"]["wrong_answer"], 1) == 2.4
    assert "2500 of the 5050" in res.output and "(49.5%" in res.output
    rows = table_rows(res.output)
    assert rows["1/9/90"][1:4] == ["+5.50", "+2.59", "-0.32"]


def test_simplex_options(tmp_path):
    res = invoke(
        "simplex", "--group-size", 12, "--estimator", "rloo", "--mark", "3,3,6", "--out", tmp_path
    )
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "simplex.json").read_text())
    assert data["estimator"] == "rloo" and data["ddof"] is None and len(data["grid"]) == 91
    row = next(r for r in data["grid"] if r["counts"] == [3, 3, 6])
    # rloo: r - mean of the other 11; mean of all = (3 - 1.5 - 12)/12 = -0.875
    want = 12 / 11 * (-0.5 + 0.875)
    assert row["advantage"]["wrong_answer"] == pytest.approx(want)
    assert table_rows(res.output)["3/3/6"][2] == f"{want:+.2f}"


def test_demo_runs_every_step(tmp_path, monkeypatch):
    from rewardsmith.cli import demo_cmd

    assert [s.name for s in demo_cmd.STEPS][:2] == ["stages", "simplex"]
    # Only this module's steps plus a stand-in for later ones (other steps test themselves).
    ran = []

    def extra(out, console):
        ran.append(out)
        return [demo_cmd.Path(out) / "extra.png"]

    steps = demo_cmd.STEPS[:2] + [demo_cmd.DemoStep("extra", "an appended step", extra)]
    monkeypatch.setattr(demo_cmd, "STEPS", steps)
    res = invoke("demo", "--out", tmp_path / "out")
    assert res.exit_code == 0, res.output
    for name in ("stages.png", "stages.json", "simplex.png", "simplex.json"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    assert ran == [tmp_path / "out"]
    flat = res.output.replace("\n", "")
    assert str(tmp_path / "out" / "stages.png") in flat
    assert str(tmp_path / "out" / "extra.png") in flat
    assert "3/3 extra" in res.output and "pictures:" in res.output
