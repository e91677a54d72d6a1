"""Sample smollm2-135m completions with the trainer's own rollout, three prompt styles (run once; CPU).

The trainer's arithmetic task in words ("What is 47 plus 38?", two-digit ``+`` and ``-``), asked
in the three chat styles of ``train.tasks.chat_messages`` (``user``, ``system``,
``system+example``), temperature 1, up to 64 new tokens, 8 completions per prompt: what a GRPO run
on smollm2-135m would see at step 0. Each call of ``probe.sample_groups`` draws 4 fresh prompts
(its own seed) and its rows are appended at once, styles interleaved, so a run stopped early keeps
every finished chunk and has all three styles; a rerun skips the chunks already written. One torch
thread (on a shared, oversubscribed CPU two threads spin-wait on each other).

    python sample_smollm2_styles.py [OUT] [--chunks N]     # default OUT: smollm2_styles.jsonl

Output rows: prompt_id, task, prompt, answer, text, source (= ``smollm2-135m``); labels are added
by hand afterwards (see the DATASHEET).
"""

import argparse
import json
from pathlib import Path

STYLES = ("user", "system", "system+example")
PROMPTS_PER_CHUNK = 4
GROUP_SIZE = 8


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", nargs="?", default="smollm2_styles.jsonl")
    ap.add_argument("--chunks", type=int, default=4, help="chunks of 4 prompts per style")
    args = ap.parse_args()

    import torch

    from rewardsmith.train.model import load_policy
    from rewardsmith.train.probe import sample_groups

    torch.set_num_threads(1)
    out = Path(args.out)
    done = {json.loads(x)["prompt_id"].rsplit("-", 1)[0] for x in out.read_text().splitlines()} if out.exists() else set()
    policy = load_policy("smollm2-135m")
    for chunk in range(args.chunks):
        for k, style in enumerate(STYLES):
            key = f"{style}-c{chunk}"
            if key in done:
                continue
            seed = 1000 + 10 * chunk + k
            rows = sample_groups(policy=policy, task="arithmetic", n_prompts=PROMPTS_PER_CHUNK, group_size=GROUP_SIZE,
                                 max_new_tokens=64, temperature=1.0, prompt_style=style, rules="seed-tiered",
                                 seed=seed, threads=1, digits=2, ops="+-")
            with out.open("a") as f:
                for r in rows:
                    f.write(json.dumps({"prompt_id": f"{key}-{r['prompt_index']}", "task": f"arith-words/{style}",
                                        "prompt": r["question"], "answer": r["answer"], "text": r["completion"],
                                        "source": "smollm2-135m"}, ensure_ascii=False) + "\n")
            print(f"{key}: {len(rows)} rows", flush=True)


if __name__ == "__main__":
    main()
