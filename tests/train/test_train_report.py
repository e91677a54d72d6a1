"""Experiment -> report.html: files, findings computed from the data, images load in Chromium; CLI."""

import json
import shutil
import subprocess

import numpy as np
import pytest

from rewardsmith.io import read_rows
from rewardsmith.report.html import write_report
from rewardsmith.report.training import findings, group_runs, load_runs, summarize
from rewardsmith.train import demo_config, run_dir, run_experiment


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    out = tmp_path_factory.mktemp("exp")
    cfg = demo_config(steps=8, progress=False, checkpoint_every=4)
    run_experiment(cfg, out, estimators=["raw", "grpo"], seeds=[0, 1])
    return out


def test_experiment_layout_and_rerun_skips_finished_runs(experiment):
    manifest = json.loads((experiment / "experiment.json").read_text())
    assert manifest["estimators"] == ["raw", "grpo"] and manifest["seeds"] == [0, 1]
    before = {}
    for est in ("raw", "grpo"):
        for seed in (0, 1):
            d = run_dir(experiment, est, seed)
            cfg = json.loads((d / "config.json").read_text())
            assert (cfg["estimator"], cfg["seed"]) == (est, seed)
            before[d] = (d / "metrics.jsonl").stat().st_mtime_ns
    run_experiment(demo_config(steps=8, progress=False, checkpoint_every=4), experiment,
                   estimators=["raw", "grpo"], seeds=[0, 1])
    assert all((d / "metrics.jsonl").stat().st_mtime_ns == t for d, t in before.items())
    with pytest.raises(ValueError, match="estimators"):
        run_experiment(demo_config(), experiment, estimators=["nope"], seeds=[0])


def test_summary_and_findings_come_from_the_metrics(experiment):
    groups = group_runs(load_runs([experiment]))
    assert list(groups) == ["raw", "grpo"] and all(len(g) == 2 for g in groups.values())
    summary = summarize(groups)
    s = summary["grpo"]
    w = s["window"]
    finals = []
    for seed in (0, 1):
        rows = read_rows(run_dir(experiment, "grpo", seed) / "metrics.jsonl")
        finals.append(np.mean([r["label_frac"]["correct"] for r in rows[-w:]]))
    assert s["final_correct"] == pytest.approx(np.mean(finals))
    lines = findings(summary)
    assert lines[0].startswith("raw: correct") and lines[1].startswith("grpo: correct")
    assert any(f"{s['final_correct']:.2f}" in line for line in lines)
    assert any("seed" in line.lower() and ("agrees" in line or "contradicts" in line) for line in lines)


def test_report_writes_html_and_pngs(experiment, tmp_path):
    path, lines = write_report([experiment], tmp_path / "report.html")
    html = path.read_text()
    pngs = sorted((tmp_path / "report_files").glob("*.png"))
    assert len(pngs) == 5  # labels, curves, 2 histogram figures, collapse
    for p in pngs:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000
        assert f"report_files/{p.name}" in html
    assert lines[0].split(":")[0] in html
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
    assert len(widths) == 5 and all(w > 300 for w in widths), widths


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
                              "--out", str(tmp_path / "exp")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "exp" / "report.html").exists()
    res = runner.invoke(app, ["report", str(tmp_path / "exp"), "--out", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "r_files" / "curves.png").exists()


def test_learning_rate_sweep_groups_and_findings(tmp_path):
    dirs = run_experiment(demo_config(steps=4, progress=False), tmp_path, estimators=["grpo"], seeds=[0],
                          lrs=[0.0, 3e-4])
    assert [d.name for d in dirs] == ["grpo-lr0-seed0", "grpo-lr0.0003-seed0"]
    groups = group_runs(load_runs([tmp_path]))
    assert list(groups) == ["grpo (lr=0.0)", "grpo (lr=0.0003)"]
    lines = findings(summarize(groups))
    assert any(line.startswith("Across learning rates (lr 0: 0/1") for line in lines)
    with pytest.raises(ValueError, match="lrs"):
        run_experiment(demo_config(), tmp_path, estimators=["grpo"], seeds=[0], lrs=[])
