"""How well the graders do on real, hand-labeled completions (``real_completions.jsonl``).

Graders: (1) the TF-IDF classifiers trained on the template-generated arithmetic data
(``fit_arithmetic_reward``), (2) the LLM judge (the ``p_<name>`` columns of a
``rewardsmith graders judge`` output on the same rows), (3) TF-IDF classifiers distilled from the
judge's verdicts (``P(yes) >= --distill-threshold``, what ``rewardsmith graders distill --threshold`` fits), and (4) the rule
reward alone (``seed-tiered``; it grades no proposition, so it has only a ranking row).

Per proposition: F1 (at 0.5) and ROC AUC against the hand labels. Ranking: the learned reward
``R = R_base(seed-tiered) + sum_i w_i p_i`` with weights fit by the hinge loss on the hand
``rank_class`` order; pairwise accuracy on held-out prompts' (better, worse) pairs, ties counting
half. Everything fit on data is cross-fit on two halves of the prompts (fit on one, score the
other, both ways), so no number is in-sample. The tables are printed for all rows, for each
source (the tiny policy's rows are all-negative on every proposition but ``single_answer``, so the
smollm2 rows are where recall is measured), and for the rows the judge covered (a judge run on
CPU may cover only some rows: its p_<name> columns are matched to the shipped rows by
``(prompt_id, text)``; the distilled classifiers, fit on the covered rows of one half, score
every row of the other).

    rewardsmith graders judge --data src/rewardsmith/data/graders/real_completions.jsonl \\
        --out out/judged.jsonl --cache out/judge.sqlite
    python benchmarks/judge_quality.py --judged out/judged.jsonl --out out/judge_quality.json
    python benchmarks/judge_quality.py            # the template grader and the rules alone
"""

from __future__ import annotations

import argparse
import json

import numpy as np

TEMPLATE_NAMES = {"shows_reasoning": "shows_reasoning", "single_answer": "single_answer",
                  "restates_question": "restates_question", "generic_filler": "template_filler",
                  "hedges": "hedges", "repeats_itself": "repeats_block"}


def grader_features(data, judge: np.ndarray, names: list[str], halves, seed: int,
                    threshold: float = 0.5) -> dict[str, np.ndarray]:
    """(n, k) probabilities per grader, NaN where a grader has no column for a proposition.
    ``threshold``: a judge verdict is ``P(yes) >= threshold`` for the distilled classifiers."""
    from rewardsmith.graders import PropositionGrader, fit_arithmetic_reward
    from rewardsmith.graders.classifier import GraderConfig

    # (1) templates
    tmpl, _ = fit_arithmetic_reward(base="seed-tiered")
    tp = tmpl.grader.predict_proba(data.texts)
    templ = np.full((len(data), len(names)), np.nan)
    for j, n in enumerate(names):
        if n in TEMPLATE_NAMES:
            templ[:, j] = tp[:, tmpl.grader.propositions.index(TEMPLATE_NAMES[n])]
    # (3) distilled, cross-fit: classifiers on one half's judge verdicts score the other half
    dist = np.full((len(data), len(names)), np.nan)
    for a, b in (halves, halves[::-1]):
        verdict = judge[a] >= threshold
        for j in range(len(names)):
            col = verdict[:, j]
            ok = np.isfinite(judge[a][:, j])
            if not ok.any():
                continue
            if col[ok].all() or not col[ok].any():  # one class only: predict the judge's constant rate
                dist[b, j] = float(col[ok].mean())
                continue
            g = PropositionGrader(GraderConfig(seed=seed)).fit(
                [data.texts[i] for i in a[ok]], col[ok, None], [names[j]])
            dist[b, j] = g.predict_proba([data.texts[i] for i in b])[:, 0]
    return {"tfidf-templates": templ, "judge": judge, "distilled": dist}


def score(data, features: dict[str, np.ndarray], names: list[str], r_base: np.ndarray, halves,
          rows_mask: np.ndarray) -> dict:
    """Per-proposition metrics and cross-fit pairwise accuracy on the rows in ``rows_mask``
    (weights are fit on the masked rows of one half, scored on the masked rows of the other)."""
    from rewardsmith.graders.classifier import proba_metrics
    from rewardsmith.graders.data import ranked_pairs
    from rewardsmith.graders.propositions import ARITHMETIC_CLASSES
    from rewardsmith.graders.weights import fit_weights, pairwise_accuracy

    y = data.labels
    idx = np.flatnonzero(rows_mask)
    hv = [np.intersect1d(h, idx) for h in halves]
    out = {"n_rows": int(len(idx)), "n_prompts": len({data.prompt_ids[i] for i in idx}),
           "positives": {n: int(y[idx, j].sum()) for j, n in enumerate(names)},
           "propositions": {}, "pairwise": {}}

    def pairs_of(ix):
        return ranked_pairs([data.prompt_ids[i] for i in ix], [data.rank_classes[i] for i in ix], ARITHMETIC_CLASSES)

    n_pairs = sum(len(pairs_of(h)) for h in hv)
    base_wins = sum(pairwise_accuracy(r_base[h], pairs_of(h)) * len(pairs_of(h)) for h in hv if len(pairs_of(h)))
    out["pairwise"]["rules (seed-tiered) alone"] = {"accuracy": base_wins / max(1, n_pairs), "n_pairs": n_pairs}
    for label, F in features.items():
        cols = [j for j in range(len(names)) if np.isfinite(F[idx, j]).any()]
        if not cols:
            continue
        out["propositions"][label] = proba_metrics(F[idx][:, cols], y[idx][:, cols], [names[j] for j in cols])
        wins = 0.0
        for a, b in (hv, hv[::-1]):
            pa, pb = pairs_of(a), pairs_of(b)
            if not len(pb):
                continue
            fa, fb = np.nan_to_num(F[a][:, cols], nan=0.5), np.nan_to_num(F[b][:, cols], nan=0.5)
            fit = fit_weights(fa, pa, r_base[a])
            wins += pairwise_accuracy(fit.base_scale * r_base[b] + fb @ fit.weights, pb) * len(pb)
        out["pairwise"][f"rules + {label} (fit weights)"] = {"accuracy": wins / max(1, n_pairs), "n_pairs": n_pairs}
    return out


def print_tables(title: str, res: dict, names: list[str]) -> None:
    graders = list(res["propositions"])
    print(f"\n### {title}: {res['n_rows']} rows, {res['n_prompts']} prompts\n")
    print("| proposition | true/false | " + " | ".join(f"{g} F1 | {g} AUC" for g in graders) + " |")
    print("|---|---|" + "---|---|" * len(graders))
    for n in names:
        cells = []
        for g in graders:
            m = res["propositions"][g].get(n)
            cells += ["-", "-"] if m is None else [f"{m['f1']:.2f}", "-" if np.isnan(m["auc"]) else f"{m['auc']:.2f}"]
        pos = res["positives"][n]
        print(f"| {n} | {pos}/{res['n_rows'] - pos} | " + " | ".join(cells) + " |")
    print("\n| reward | pairwise accuracy (held-out prompts) | pairs |\n|---|---|---|")
    for g, v in res["pairwise"].items():
        print(f"| {g} | {v['accuracy']:.3f} | {v['n_pairs']} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--judged", default=None, help="output of `rewardsmith graders judge` on (some of) the rows of "
                    "real_completions.jsonl: its p_<name> columns are matched to the rows by (prompt_id, text)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--distill-threshold", type=float, default=0.5,
                    help="judge verdict = P(yes) >= this, for the distilled column (`graders distill --threshold`)")
    args = ap.parse_args()

    from rewardsmith.graders.data import shipped_data_path, split_by_prompt, validate_rows
    from rewardsmith.graders.fit import base_rewards
    from rewardsmith.graders.judge_propositions import load_propositions
    from rewardsmith.graders.propositions import ARITHMETIC_CLASSES
    from rewardsmith.io import read_rows
    from rewardsmith.rules import load_rules

    rows = read_rows(shipped_data_path("real_completions.jsonl"))
    names = [p.name for p in load_propositions()]
    data = validate_rows(rows, names, source="real_completions.jsonl", need_ranking=True, classes=ARITHMETIC_CLASSES)
    judge = np.full((len(rows), len(names)), np.nan)
    if args.judged:
        where = {(r["prompt_id"], r["text"]): i for i, r in enumerate(rows)}
        for r in read_rows(args.judged):
            i = where.get((r.get("prompt_id"), r.get("text")))
            if i is None:
                raise SystemExit(f"{args.judged}: a row ({r.get('prompt_id')!r}) is not in real_completions.jsonl")
            for j, n in enumerate(names):
                if r.get(f"p_{n}") is not None:
                    judge[i, j] = float(r[f"p_{n}"])
    r_base = base_rewards(load_rules("seed-tiered"), data)
    halves = split_by_prompt(data.prompt_ids, len(data), [0.5], args.seed)
    features = grader_features(data, judge, names, halves, args.seed, args.distill_threshold)
    judged = np.isfinite(judge).any(axis=1)
    cheap = {k: v for k, v in features.items() if k != "judge" and (k != "distilled" or judged.any())}

    sources = np.asarray([str(r.get("source", "")) for r in rows])
    tiny = np.char.startswith(sources, "tiny-policy")
    result = {"all rows": score(data, cheap, names, r_base, halves, np.ones(len(rows), bool)),
              "smollm2-135m rows": score(data, cheap, names, r_base, halves, sources == "smollm2-135m"),
              "tiny-policy rows": score(data, cheap, names, r_base, halves, tiny)}
    if judged.any():
        result["rows the judge covered"] = score(data, features, names, r_base, halves, judged)
    for title, res in result.items():
        print_tables(title, res, names)
    if args.out:
        from rewardsmith.io import atomic_write_json

        atomic_write_json(args.out, result)


if __name__ == "__main__":
    main()
