"""How well three graders do on real, hand-labeled completions (``real_completions.jsonl``).

Graders: (1) the TF-IDF classifiers trained on the template-generated arithmetic data
(``fit_arithmetic_reward``), (2) the LLM judge (the ``p_<name>`` columns of a
``rewardsmith graders judge`` output on the same rows), (3) TF-IDF classifiers distilled from the
judge's verdicts. Per proposition: F1 (at 0.5) and ROC AUC against the hand labels. Learned
reward: ``R = R_base(seed-tiered) + sum_i w_i p_i`` with weights fit by the hinge loss on the hand
``rank_class`` order, pairwise accuracy on held-out prompts. Everything fit on data is cross-fit
on two halves of the prompts (fit on one, score the other, both ways), so no number is in-sample.

    rewardsmith graders judge --data src/rewardsmith/data/graders/real_completions.jsonl \\
        --out out/judged.jsonl --cache out/judge.sqlite
    python benchmarks/judge_quality.py --judged out/judged.jsonl --out out/judge_quality.json
"""

from __future__ import annotations

import argparse
import json

import numpy as np

TEMPLATE_NAMES = {"shows_reasoning": "shows_reasoning", "single_answer": "single_answer",
                  "restates_question": "restates_question", "generic_filler": "template_filler",
                  "hedges": "hedges", "repeats_itself": "repeats_block"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--judged", default=None, help="output of `rewardsmith graders judge` on real_completions.jsonl "
                    "(without it: the template grader alone, on the shipped file)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from rewardsmith.graders import PropositionGrader, fit_arithmetic_reward
    from rewardsmith.graders.classifier import GraderConfig, proba_metrics
    from rewardsmith.graders.data import ranked_pairs, split_by_prompt, validate_rows
    from rewardsmith.graders.fit import base_rewards
    from rewardsmith.graders.propositions import ARITHMETIC_CLASSES
    from rewardsmith.graders.weights import fit_weights, pairwise_accuracy
    from rewardsmith.io import read_rows
    from rewardsmith.rules import load_rules

    from rewardsmith.graders.data import shipped_data_path
    from rewardsmith.graders.judge_propositions import load_propositions

    rows = read_rows(args.judged or shipped_data_path("real_completions.jsonl"))
    names = [k[2:] for k in rows[0] if k.startswith("p_")] or [p.name for p in load_propositions()]
    data = validate_rows(rows, names, source=args.judged, need_ranking=True, classes=ARITHMETIC_CLASSES)
    y = data.labels
    judge = np.asarray([[np.nan if r.get(f"p_{n}") is None else r[f"p_{n}"] for n in names] for r in rows],
                       dtype=np.float64)
    r_base = base_rewards(load_rules("seed-tiered"), data)
    halves = split_by_prompt(data.prompt_ids, len(data), [0.5], args.seed)

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
        verdict = judge[a] >= 0.5
        for j in range(len(names)):
            col = verdict[:, j]
            ok = np.isfinite(judge[a][:, j])
            if not ok.any():
                continue
            if col[ok].all() or not col[ok].any():  # one class only: predict the judge's constant rate
                dist[b, j] = float(col[ok].mean()) if ok.any() else np.nan
                continue
            g = PropositionGrader(GraderConfig(seed=args.seed)).fit(
                [data.texts[i] for i in a[ok]], col[ok, None], [names[j]])
            dist[b, j] = g.predict_proba([data.texts[i] for i in b])[:, 0]

    result = {"n_rows": len(data), "n_prompts": len(set(data.prompt_ids)), "propositions": {}, "pairwise": {}}
    for label, F in (("tfidf-templates", templ), ("judge", judge), ("distilled", dist)):
        cols = [j for j in range(len(names)) if np.isfinite(F[:, j]).any()]
        if not cols:
            continue
        m = proba_metrics(F[:, cols], y[:, cols], [names[j] for j in cols])
        result["propositions"][label] = m
        # learned reward, cross-fit on prompt halves
        wins = []
        for a, b in (halves, halves[::-1]):
            Fa, Fb = np.nan_to_num(F[a][:, cols], nan=0.5), np.nan_to_num(F[b][:, cols], nan=0.5)
            pa = ranked_pairs([data.prompt_ids[i] for i in a], [data.rank_classes[i] for i in a], ARITHMETIC_CLASSES)
            pb = ranked_pairs([data.prompt_ids[i] for i in b], [data.rank_classes[i] for i in b], ARITHMETIC_CLASSES)
            fit = fit_weights(Fa, pa, r_base[a])
            rb = r_base[b] + Fb @ fit.weights
            wins.append((pairwise_accuracy(rb, pb) * len(pb), pairwise_accuracy(r_base[b], pb) * len(pb), len(pb)))
        n = sum(w[2] for w in wins)
        result["pairwise"][label] = {"learned": sum(w[0] for w in wins) / n, "base": sum(w[1] for w in wins) / n,
                                     "n_pairs": n}
    print(f"{len(data)} rows, {result['n_prompts']} prompts\n")
    print("| proposition | pos/neg | " + " | ".join(f"{g} F1 | {g} AUC" for g in result["propositions"]) + " |")
    print("|---|---|" + "---|---|" * len(result["propositions"]))
    for j, n in enumerate(names):
        cells = []
        for g, m in result["propositions"].items():
            if n in m:
                f1, auc = m[n]["f1"], m[n]["auc"]
                cells += [f"{f1:.2f}", "-" if np.isnan(auc) else f"{auc:.2f}"]
            else:
                cells += ["-", "-"]
        print(f"| {n} | {int(y[:, j].sum())}/{int((~y[:, j]).sum())} | " + " | ".join(cells) + " |")
    print("\n| grader | pairwise accuracy of R_base + sum w_i p_i | R_base alone | held-out pairs |\n|---|---|---|---|")
    for g, v in result["pairwise"].items():
        print(f"| {g} | {v['learned']:.3f} | {v['base']:.3f} | {v['n_pairs']} |")
    if args.out:
        from rewardsmith.io import atomic_write_json

        atomic_write_json(args.out, result)


if __name__ == "__main__":
    main()
