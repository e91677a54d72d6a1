"""Sample the tiny-policy completions of ``real_completions.jsonl`` at three training stages.

Stages: the warm start (step 0, like the seed's stage 1), then the final checkpoint of each run
given (the shipped set: GRPO at step 40, raw at step 80, raw on the learned reward at step 80,
GRPO at step 40 with another seed; arithmetic task, lr 3e-4, the demo's settings). 5 prompts x 8
completions per stage (temperature 1.0, the trainer's rollout). Usage:
``sample_tiny.py OUT [--set K] RUN...`` (run directories with ``checkpoint.pt`` and
``config.json``); ``--set K`` (K >= 1) draws other prompts and tags the prompt ids ``sK-``
(the shipped file: set 0 with the four runs above, then set 1 with GRPO step 80 and Dr. GRPO
step 80 of other seeds).
"""

import json
import sys

import numpy as np
import torch

from rewardsmith.train.config import GRPOConfig
from rewardsmith.train.trainer import rollout, setup_policy


def main(out_path: str, *runs: str) -> None:
    rows = []
    k = 0
    if runs and runs[0] == "--set":
        k, runs = int(runs[1]), runs[2:]
    prefix = f"s{k}-" if k else ""
    cfg = GRPOConfig.from_dict(json.load(open(f"{runs[0]}/config.json")))
    stages = [("step0", None)]
    for n, r in enumerate(runs):
        step = torch.load(f"{r}/checkpoint.pt", weights_only=True)["step"]
        cfg_r = json.load(open(f"{r}/config.json"))
        tag = f"step{step}" + ("-learned" if cfg_r.get("grader") else "") + (f"-run{n}" if n >= 2 or k else "")
        stages.append((tag, r))
    for stage, run in stages:
        policy, task = setup_policy(cfg)
        if run is not None:
            state = torch.load(f"{run}/checkpoint.pt", weights_only=True)
            policy.model.load_state_dict(state["model"], strict=not state.get("trainable_only"))
        rng = np.random.default_rng(100 + len(rows) + 1000 * k)
        torch.manual_seed(len(rows) + 1000 * k)
        problems = task.sample(rng, 5)
        ro = rollout(policy, [policy.encode_problem(p) for p in problems], 8, 1.0, 24)
        for j, ids in enumerate(ro.completion_ids):
            p = problems[j // 8]
            rows.append({"prompt_id": f"tiny-{prefix}{stage}-{j // 8}", "task": "arith-tiny", "prompt": p.prompt,
                         "answer": str(p.answer), "text": policy.decode(ids), "source": f"tiny-policy/{stage}"})
    with open(out_path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
