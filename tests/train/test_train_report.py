"""Experiment -> report.html: files, findings computed from the data, images load in Chromium; CLI.

Every assertion here holds on any CPU: the short runs' numbers differ between machines (BLAS
summation order), so tests check structure and numbers recomputed from the same metrics, the
collapse rule's guarantees (a run too short for two windows is never collapsed; an lr = 0 run over
several seeds never is), and findings on synthetic metrics whose effect is known by construction."""

import json
import shutil
import subprocess

import numpy as np
import pytest

from rewardsmith.io import read_rows
from rewardsmith.report.html import write_report
from rewardsmith.report.training import Run, findings, group_runs, load_runs, summarize
from rewardsmith.train import demo_config, run_dir, run_experiment, train
from rewardsmith.train.collapse import run_verdict


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    out = tmp_path_factory.mktemp("exp")
    cfg = demo_config(steps=8, progress=False, checkpoint_every=4)
    run_experiment(cfg, out, estimators=["raw", "grpo"], seeds=[0, 1], control=True)
    return out


def test_experiment_layout_and_rerun_skips_finished_runs(experiment):
    manifest = json.loads((experiment / "experiment.json").read_text())
    assert manifest["estimators"] == ["raw", "grpo"] and manifest["seeds"] == [0, 1] and manifest["control"]
    for seed in (0, 1):
        ctrl = json.loads((experiment / f"control-seed{seed}" / "config.json").read_text())
        assert (ctrl["lr"], ctrl["seed"]) == (0.0, seed)
    before = {}
    for est in ("raw", "grpo"):
        for seed in (0, 1):
            d = run_dir(experiment, est, seed)
            cfg = json.loads((d / "config.json").read_text())
            assert (cfg["estimator"], cfg["seed"]) == (est, seed)
            before[d] = (d / "metrics.jsonl").stat().st_mtime_ns
    before[experiment / "control-seed0"] = (experiment / "control-seed0" / "metrics.jsonl").stat().st_mtime_ns
    run_experiment(demo_config(steps=8, progress=False, checkpoint_every=4), experiment,
                   estimators=["raw", "grpo"], seeds=[0, 1], control=True)
    assert all((d / "metrics.jsonl").stat().st_mtime_ns == t for d, t in before.items())
    with pytest.raises(ValueError, match="estimators"):
        run_experiment(demo_config(), experiment, estimators=["nope"], seeds=[0])


def test_summary_and_findings_come_from_the_metrics(experiment):
    from scipy import stats

    groups = group_runs(load_runs([experiment]))
    assert list(groups) == ["control", "raw", "grpo"] and all(len(g) == 2 for g in groups.values())
    summary = summarize(groups)
    s = summary["grpo"]
    w = s.window
    finals = []
    for seed in (0, 1):
        rows = read_rows(run_dir(experiment, "grpo", seed) / "metrics.jsonl")
        finals.append(np.mean([r["label_frac"]["correct"] for r in rows[-w:]]))
        # the report's verdict is the trainer's, from the same rule and rows
        assert summary["grpo"].verdicts[seed].collapsed == rows[-1]["collapsed"]
    assert s.final_correct == pytest.approx(np.mean(finals))
    half = stats.t.ppf(0.975, 1) * np.std(finals, ddof=1) / np.sqrt(2)
    assert (s.final_correct_ci.lo, s.final_correct_ci.hi) == pytest.approx((np.mean(finals) - half,
                                                                                   np.mean(finals) + half))
    assert summary["control"].control and not s.control
    found = findings(summary)
    assert 1 <= len(found.conclusions) <= 5
    assert found.conclusions[0].startswith("Most accurate arm:")
    assert any(line.startswith("Noise floor (control arm") for line in found.conclusions)
    assert set(found.details) == {"control", "raw", "grpo", "overall"}
    assert found.details["grpo"][0].startswith("grpo: correct")
    assert any(f"{s.final_correct:.2f}" in line for line in found.details["grpo"])
    pairs = {(a, b) for a, b, _ in found.comparisons}
    assert pairs >= {("raw", "control"), ("grpo", "control")} and len(pairs & {("raw", "grpo"), ("grpo", "raw")}) == 1


def test_report_writes_html_and_pngs(experiment, tmp_path):
    path, lines = write_report([experiment], tmp_path / "report.html")
    html = path.read_text()
    pngs = sorted((tmp_path / "report_files").glob("*.png"))
    assert len(pngs) == 6  # labels, curves, 3 histogram figures, collapse
    for p in pngs:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000
        assert f"report_files/{p.name}" in html
    assert lines[0].split(":")[0] in html and len(lines) <= 5
    assert "Noise floor" in html and "control (noise floor)" in html and "<details>" in html
    assert "Paired comparisons" in html and "95% CI" in html
    with pytest.raises(ValueError, match="output"):
        write_report([experiment], tmp_path / "report.txt")
    with pytest.raises(ValueError, match="no metrics.jsonl"):
        write_report([tmp_path / "report_files"], tmp_path / "r2.html")


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.slow
def test_report_images_load_in_headless_chromium(experiment, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("headless Chromium not found (install chromium to check the report renders)")
    path, _ = write_report([experiment], tmp_path / "report.html")
    probe = tmp_path / "probe.html"
    probe.write_text(path.read_text().replace(
        "</body>",
        "<script>window.addEventListener('load', () => { document.body.setAttribute('data-widths', "
        "Array.from(document.images).map(i => i.complete ? i.naturalWidth : -1).join(',')); });</script></body>"))
    out = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
         "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert "data-widths=" in out.stdout, out.stderr[-2000:]
    widths = [int(w) for w in out.stdout.split('data-widths="')[1].split('"')[0].split(",")]
    assert len(widths) == 6 and all(w > 300 for w in widths), widths


@pytest.mark.slow
def test_cli_train_resume_experiment_report(tmp_path):
    from typer.testing import CliRunner

    from rewardsmith.cli import app

    runner = CliRunner()
    cfgfile = tmp_path / "c.yaml"
    cfgfile.write_text("steps: 2\nprompts_per_step: 2\ngroup_size: 2\nprogress: false\n")
    out = tmp_path / "run"
    res = runner.invoke(app, ["train", "--config", str(cfgfile), "--estimator", "dr_grpo", "--seed", "3",
                              "--clip-high", "0.28", "--out", str(out)])
    assert res.exit_code == 0, res.output
    cfg = json.loads((out / "config.json").read_text())
    assert (cfg["estimator"], cfg["seed"], cfg["clip_high"], cfg["steps"]) == ("dr_grpo", 3, 0.28, 2)
    res = runner.invoke(app, ["train", "--out", str(out), "--resume", "--steps", "3"])
    assert res.exit_code == 0, res.output
    assert [r["step"] for r in read_rows(out / "metrics.jsonl")] == [1, 2, 3]
    res = runner.invoke(app, ["train", "--out", str(tmp_path / "x"), "--lr", "-1"])
    assert res.exit_code != 0 and "lr" in res.output
    res = runner.invoke(app, ["experiment", "--config", str(cfgfile), "--estimators", "raw,grpo", "--seeds", "0",
                              "--control", "--out", str(tmp_path / "exp")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "exp" / "report.html").exists()
    assert json.loads((tmp_path / "exp" / "control-seed0" / "config.json").read_text())["lr"] == 0.0
    res = runner.invoke(app, ["report", str(tmp_path / "exp"), "--out", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "r_files" / "curves.png").exists()


def test_learning_rate_sweep_groups_lr0_as_the_control_arm(tmp_path):
    # Was: "lr 0: 0/1 runs collapsed" after a 4-step run, a stochastic outcome that failed on
    # another CPU (0.11 -> 0.09 called collapse). Now a run too short for two separate windows is
    # never collapsed by the rule itself, and lr = 0 is the control arm, not a finding's evidence.
    dirs = run_experiment(demo_config(steps=4, progress=False), tmp_path, estimators=["grpo"], seeds=[0],
                          lrs=[0.0, 3e-4])
    assert [d.name for d in dirs] == ["grpo-lr0-seed0", "grpo-lr0.0003-seed0"]
    groups = group_runs(load_runs([tmp_path]))
    assert list(groups) == ["control", "grpo"]
    summary = summarize(groups)
    assert summary["control"].collapsed == [False] and "too short" in summary["control"].verdicts[0].reason
    found = findings(summary)
    assert not any("step size" in line for line in found.lines())  # one trained learning rate: no such claim
    with pytest.raises(ValueError, match="lrs"):
        run_experiment(demo_config(), tmp_path, estimators=["grpo"], seeds=[0], lrs=[])


@pytest.mark.slow
def test_lr0_control_is_never_collapsed_on_any_seed(tmp_path):
    """Five seeds of a 10-step lr = 0 run (two full windows): the policy never changes, so the
    verdict must never fire; the margins show how far from firing each run stays."""
    for seed in range(5):
        rows = train(demo_config(steps=10, lr=0.0, seed=seed, progress=False, checkpoint_every=0,
                                 samples_per_step=0), tmp_path / f"c{seed}")
        v = run_verdict(rows, 8)
        assert not v.collapsed and not any(r["collapsed"] for r in rows), v.reason
        assert v.end.top_skeleton_share < 0.45, v  # the template share never nears the 0.5 needed
        assert abs(v.distinct_drop) < 0.1 and v.p_template_rise > 0.05, v


@pytest.mark.slow
def test_a_run_built_to_collapse_is_flagged(tmp_path):
    """A reward that pays one fixed answer (``<answer>11</answer>``, -0.5 for any other answer in
    the format, -2 for a broken one) at a large step: the policy answers 11 whatever the problem.
    40 steps at lr 3e-3 reach a ~1.0 template share with margin (measured: > 0.85 from step 28)."""
    import re

    from rewardsmith.train.trainer import make_reward

    fn, labels = make_reward("seed-tiered")
    answer = re.compile(r"<answer>(.*?)</answer>")

    def pays_eleven(completions, answers):
        _, lab = fn(completions, answers)  # the true labels: correct means the right sum
        paid = [1.0 if (m := answer.search(c)) and m.group(1) == "11" else -0.5 for c in completions]
        return np.where(np.array(lab) == "bad_format", -2.0, paid), lab

    pays_eleven.labels = labels
    rows = train(demo_config(steps=40, lr=3e-3, progress=False, checkpoint_every=0), tmp_path / "fixed",
                 reward=pays_eleven)
    v = run_verdict(rows, 8)
    assert v.collapsed and rows[-1]["collapsed"], v.reason
    assert v.end.top_skeleton_share >= 0.7 and v.end.correct <= 0.1 and v.distinct_drop >= 0.1, v
    summary = summarize(group_runs(load_runs([tmp_path])))
    found = findings(summary)
    assert found.conclusions[1].startswith("1 of 1 trained runs collapsed") and "'11'" in found.conclusions[1]


def _synthetic_run(tmp_path, name, seed, correct, lr=3e-4, estimator="grpo", template=0.3, n=20, noise=0.0):
    """A run whose metrics are made up: correct fraction ramps from 0.15 to ``correct``."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        c = float(np.clip(0.15 + (correct - 0.15) * i / (n - 1) + rng.normal(0, noise), 0, 1))
        sk = 0.2 + (template - 0.2) * i / (n - 1)
        rows.append({"step": i + 1, "label_frac": {"correct": c, "wrong_answer": (1 - c) / 2, "bad_format": (1 - c) / 2},
                     "reward_mean": c - 1, "top_skeleton_share": sk, "top_completion_share": sk / 2,
                     "group_distinct_frac": 0.9 - 0.4 * (sk - 0.2), "distinct_2": 0.5 - 0.4 * (sk - 0.2),
                     "entropy": 1.0, "kl": 0.0, "adv_max": 2.0, "adv_min": -2.0, "adv_bound": 2.65,
                     "adv_zero_variance_frac": 0.1, "reward_hist": {"1": 64}})
    cfg = {"estimator": estimator, "seed": seed, "lr": lr, "prompts_per_step": 8, "group_size": 8}
    return Run(tmp_path / f"{name}-seed{seed}", cfg, rows)


def test_findings_on_synthetic_runs_with_a_known_effect(tmp_path):
    runs = [_synthetic_run(tmp_path, "grpo", s, 0.6 + 0.01 * s, estimator="grpo") for s in range(4)]
    runs += [_synthetic_run(tmp_path, "raw", s, 0.3 + 0.012 * s, estimator="raw") for s in range(4)]
    runs += [_synthetic_run(tmp_path, "ctl", s, 0.15, lr=0.0) for s in range(4)]
    found = findings(summarize(group_runs(runs)))
    top = found.conclusions[0]
    assert top.startswith("Most accurate arm: grpo, final correct 0.59 [")  # last 3 steps of the ramp
    assert "it learned" in top and "better, at the 5% level" in top
    assert found.conclusions[1].startswith("No run collapsed: 0 of 8 trained runs")


def test_findings_on_synthetic_runs_without_an_effect(tmp_path):
    runs = [_synthetic_run(tmp_path, "grpo", s, 0.45, estimator="grpo", noise=0.03) for s in range(3)]
    runs += [_synthetic_run(tmp_path, "raw", s + 10, 0.45, estimator="raw", noise=0.03) for s in range(3)]
    runs = [Run(r.path, {**r.config, "seed": i % 3}, r.rows) for i, r in enumerate(runs)]
    runs += [_synthetic_run(tmp_path, "ctl", s, 0.15, lr=0.0, noise=0.03) for s in range(3)]
    found = findings(summarize(group_runs(runs)))
    assert "not distinguishable with these seeds" in found.conclusions[0]
    assert "better, at the 5% level" not in " ".join(found.lines())
    # one seed per arm: no interval, "too few seeds to tell apart"
    one = [_synthetic_run(tmp_path, "grpo", 0, 0.5, estimator="grpo"), _synthetic_run(tmp_path, "raw", 0, 0.4, estimator="raw")]
    found = findings(summarize(group_runs(one)))
    assert "too few seeds to tell apart" in found.conclusions[0] and "no interval" in found.conclusions[0]


def test_no_collapse_finding_rests_on_a_verdict_the_control_earns(tmp_path):
    # made-up metrics where the control arm itself shows the template signs and falling accuracy
    runs = [_synthetic_run(tmp_path, "grpo", s, 0.02, estimator="grpo", template=0.95) for s in range(3)]
    runs += [_synthetic_run(tmp_path, "ctl", s, 0.02, lr=0.0, template=0.95) for s in range(3)]
    summary = summarize(group_runs(runs))
    assert all(summary["grpo"].collapsed) and all(summary["control"].collapsed)
    found = findings(summary)
    assert "the verdict is noise" in found.conclusions[1] and "no conclusion is drawn" in found.conclusions[1]


def test_cli_train_notes_completions_cut_by_max_new_tokens(tmp_path):
    """A run whose completions mostly stop at --max-new-tokens says so, naming the option (a new
    user's smollm2 run at the default 16 tokens had every answer cut and all rewards equal)."""
    from typer.testing import CliRunner

    from rewardsmith.cli import app

    cfgfile = tmp_path / "c.yaml"
    # an untrained tiny model with room for one token: 16 completions, each cut unless its first
    # token is end-of-sequence
    cfgfile.write_text("steps: 1\nprompts_per_step: 2\ngroup_size: 8\nprogress: false\nsft_steps: 0\n"
                       "max_new_tokens: 1\n")
    res = CliRunner().invoke(app, ["train", "--config", str(cfgfile), "--out", str(tmp_path / "run")],
                             env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    cut = read_rows(tmp_path / "run" / "metrics.jsonl")[-1]["truncated_frac"]
    assert cut >= 0.5
    assert "--max-new-tokens 1" in " ".join(res.output.split())
