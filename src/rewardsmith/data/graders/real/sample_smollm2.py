"""Sample the smollm2-135m completions of ``real_completions.jsonl`` (run once; CPU, ~minutes).

Two tasks, 12 prompts each, 4 samples per prompt (temperature 0.8, top-p 0.95, 64 new tokens;
one torch thread: on a shared, oversubscribed CPU two threads spin-wait on each other):
``arith`` (two-digit addition/subtraction, "What is 47+38?") and ``word`` (one-step word problems
from six templates). Output: ``smollm2_samples.jsonl`` (prompt_id, task, prompt, answer, text,
source). Labels are added by hand afterwards (see the DATASHEET).
"""

import json
import sys

import numpy as np
import torch

from rewardsmith.models import load_causal_lm

N_PROMPTS = 12
WORD = [
    ("Tom has {a} apples and buys {b} more. How many apples does he have now?", lambda a, b: a + b),
    ("A shelf holds {a} books. {b} books are taken away. How many books are left?", lambda a, b: a - b),
    ("Sara walked {a} meters in the morning and {b} meters in the evening. How many meters did she walk in total?", lambda a, b: a + b),
    ("A bus had {a} passengers. At the stop, {b} got off. How many passengers are on the bus?", lambda a, b: a - b),
    ("There are {a} red balls and {b} blue balls in a box. How many balls are in the box?", lambda a, b: a + b),
    ("A baker made {a} cookies and sold {b} of them. How many cookies does the baker have left?", lambda a, b: a - b),
]


def problems(rng):
    out = []
    for i in range(N_PROMPTS):
        a, b = int(rng.integers(10, 100)), int(rng.integers(10, 100))
        op = "+" if rng.random() < 0.5 else "-"
        if op == "-" and b > a:
            a, b = b, a
        out.append(("arith", f"arith-{i:02d}", f"What is {a}{op}{b}?", str(a + b if op == "+" else a - b)))
    for i in range(N_PROMPTS):
        t, f = WORD[i % len(WORD)]
        a, b = int(rng.integers(10, 100)), int(rng.integers(10, 100))
        if f(5, 3) == 2 and b > a:
            a, b = b, a
        out.append(("word", f"word-{i:02d}", t.format(a=a, b=b), str(f(a, b))))
    return out


def main(out_path: str) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model, tok = load_causal_lm("smollm2-135m")
    tok.padding_side = "left"
    probs = problems(np.random.default_rng(0))
    # the two tasks interleaved, so a run cut short still has both; a rerun resumes
    probs = [p for pair in zip(probs[:N_PROMPTS], probs[N_PROMPTS:]) for p in pair]
    done = set()
    try:
        done = {json.loads(x)["prompt_id"] for x in open(out_path)}
    except FileNotFoundError:
        pass
    probs = [p for p in probs if p[1] not in done]
    for start in range(0, len(probs), 4):
        rows = []
        chunk = probs[start:start + 4]
        texts = [tok.apply_chat_template([{"role": "user", "content": q + "\nShow your working, then give the final answer."}],
                                         tokenize=False, add_generation_prompt=True) for _, _, q, _ in chunk]
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            gen = model.generate(**enc, do_sample=True, temperature=0.8, top_p=0.95, max_new_tokens=64,
                                 num_return_sequences=4, pad_token_id=tok.pad_token_id)
        new = gen[:, enc["input_ids"].shape[1]:]
        for k, seq in enumerate(new):
            task, pid, q, ans = chunk[k // 4]
            rows.append({"prompt_id": pid, "task": task, "prompt": q, "answer": ans,
                         "text": tok.decode(seq, skip_special_tokens=True).strip(),
                         "source": "smollm2-135m"})
        with open(out_path, "a") as f:  # written batch by batch: a killed run keeps its rows
            for r in rows:
                f.write(json.dumps(r) + "\n")
        print(start + len(chunk), "prompts", flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "smollm2_samples.jsonl")
