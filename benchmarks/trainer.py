"""One GRPO step: rewardsmith's trainer vs TRL 1.16's GRPOTrainer, same model, batch and loss, on CPU.

Both sides load the same local checkpoint (a tiny Llama, ~89k parameters, random weights, with a
character-level ``PreTrainedTokenizerFast`` built here), sample 8 prompts x 4 completions of up to
12 tokens at temperature 1, score them with the seed-tiered rule set, use group-normalized
advantages with TRL's settings (Bessel std, eps 1e-4), the per-sequence ``grpo`` loss, beta 0, one
AdamW step, the same learning rate and the same number of CPU threads. Each side runs in its own
subprocess of this one run (so peak memory is its own); time per step is the median wall time
between consecutive steps after warm-up.

    python benchmarks/trainer.py [--steps 12] [--warmup 3] [--threads 1]

Target: rewardsmith at most half of TRL's time per step.

The real model (``--model smollm2-135m``, SmolLM2-135M-Instruct from rewardsmith's registry):
4 prompts x 4 completions of up to 64 tokens, the same chat prompts on both sides (the system
prompt stating the format, one worked example turn, the arithmetic problem in words, in the
model's chat template), beta 0, one AdamW step per batch, full fine-tuning in float32:

    python benchmarks/trainer.py --model smollm2-135m --steps 5 --warmup 1 --rounds 1 --threads 2

Target there: at most 0.7x TRL's time per step and no more peak RSS than TRL. TRL stops a
completion at EOS only; rewardsmith also at ``</answer>`` (its trainer's rule): the table prints
both mean completion lengths. Each side runs at its defaults: TRL with gradient checkpointing,
rewardsmith with micro-batches of <= 512 completion tokens in the update. ``--lora-r R`` trains
LoRA adapters (rank R, alpha 2R, every projection, no dropout) on both sides instead.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROMPTS, GENERATIONS, COMPLETION_LEN, LR = 8, 4, 12, 1e-4
MODEL = "tiny"  # or a named model (rewardsmith.models), set by --model
LORA_R = 0  # --lora-r: both sides train LoRA adapters of this rank (alpha 2r) on every projection
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def _configure(model: str) -> None:
    global PROMPTS, GENERATIONS, COMPLETION_LEN, LR, MODEL
    MODEL = model
    if model != "tiny":
        PROMPTS, GENERATIONS, COMPLETION_LEN, LR = 4, 4, 64, 1e-6


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _prod(shape: list[int]) -> int:
    n = 1
    for x in shape:
        n *= x
    return n


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_checkpoint(directory: Path) -> int:
    """A tiny Llama (random init, seed 0) and a char tokenizer, saved as a normal local checkpoint."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    from rewardsmith.train.model import CharTokenizer, build_tiny_model

    chars = CharTokenizer()
    vocab = {t: i for i, t in enumerate(chars.vocab)}
    tk = Tokenizer(models.WordLevel(vocab, unk_token="?"))
    tk.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tk.decoder = decoders.Fuse()
    tk.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 1)])
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>",
                                  unk_token="?", additional_special_tokens=["<think>", "</think>", "<answer>", "</answer>"])
    model = build_tiny_model(len(chars), 64, 2, 4, seed=0)
    model.save_pretrained(directory)
    tok.save_pretrained(directory)
    return sum(p.numel() for p in model.parameters())


def prompts(n: int) -> list[dict]:
    """The same problems on both sides; for a chat model, the chat turns rewardsmith's trainer builds."""
    import numpy as np

    from rewardsmith.train.tasks import ArithmeticTask, chat_messages

    probs = ArithmeticTask().sample(np.random.default_rng(0), n)
    if MODEL == "tiny":
        return [{"prompt": p.prompt, "answer": p.answer} for p in probs]
    return [{"prompt": chat_messages(p.question, "system+example"), "answer": p.answer} for p in probs]


def run_rewardsmith(ckpt: Path, steps: int, threads: int) -> dict:
    from rewardsmith.train import GRPOConfig, train

    cfg = GRPOConfig(model=str(ckpt), prompt_style="auto", steps=steps, prompts_per_step=PROMPTS, group_size=GENERATIONS,
                     max_new_tokens=COMPLETION_LEN, estimator="grpo", estimator_options={"ddof": 1, "eps": 1e-4},
                     loss_agg="grpo", beta=0.0, lr=LR, adam_beta2=0.999, threads=threads, checkpoint_every=0,
                     progress=False, samples_per_step=0, lora_r=LORA_R, lora_alpha=2.0 * LORA_R or 32.0,
                     lora_targets=",".join(LORA_TARGETS))
    stamps: list[float] = []
    base = _rss_mb()
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        rows = train(cfg, Path(out) / "run", on_step=lambda row: stamps.append(time.perf_counter()))
    lens = [r["completion_len"] for r in rows]
    phases = {k: [r[f"time_{k}_s"] for r in rows] for k in ("rollout", "reward", "update")}
    return {"stamps": [t0] + stamps, "rss_before_mb": base, "peak_mb": _peak_mb(),
            "completion_len": statistics.mean(lens), "phases": phases}


def run_trl(ckpt: Path, steps: int, threads: int) -> dict:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig as TRLConfig
    from trl import GRPOTrainer

    from rewardsmith.rules import load_rules

    torch.set_num_threads(threads)
    rules = load_rules("seed-tiered")

    def reward(completions, answer, **_):
        return [float(x) for x in rules.score_batch(list(completions), list(answer), workers=0).rewards]

    stamps: list[float] = []
    lens: list[float] = []

    class Stamp(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            stamps.append(time.perf_counter())

        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "completions/mean_length" in logs:
                lens.append(logs["completions/mean_length"])

    with tempfile.TemporaryDirectory() as out:
        args = TRLConfig(output_dir=out, per_device_train_batch_size=PROMPTS * GENERATIONS,
                         num_generations=GENERATIONS, max_completion_length=COMPLETION_LEN, max_steps=steps,
                         learning_rate=LR, lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0,
                         beta=0.0, loss_type="grpo", scale_rewards="group", temperature=1.0, use_cpu=True,
                         bf16=False, fp16=False, report_to="none", logging_steps=1, save_strategy="no",
                         disable_tqdm=True, seed=0, dataloader_num_workers=0)
        model = AutoModelForCausalLM.from_pretrained(ckpt, local_files_only=True)
        tok = AutoTokenizer.from_pretrained(ckpt, local_files_only=True)
        data = Dataset.from_list(prompts(PROMPTS * (steps + 2)))
        peft_config = None
        if LORA_R:
            from peft import LoraConfig

            peft_config = LoraConfig(r=LORA_R, lora_alpha=2 * LORA_R, lora_dropout=0.0, target_modules=LORA_TARGETS,
                                     bias="none", task_type="CAUSAL_LM")
        trainer = GRPOTrainer(model=model, reward_funcs=reward, args=args, train_dataset=data,
                              processing_class=tok, callbacks=[Stamp()], peft_config=peft_config)
        base = _rss_mb()
        t0 = time.perf_counter()
        trainer.train()
    return {"stamps": [t0] + stamps, "rss_before_mb": base, "peak_mb": _peak_mb(),
            "completion_len": statistics.mean(lens) if lens else float("nan")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3, help="alternate the sides this many times; best median wins")
    ap.add_argument("--model", default="tiny", help="'tiny' (built here) or a named model, e.g. smollm2-135m")
    ap.add_argument("--lora-r", type=int, default=0, help="LoRA rank on both sides (0 = full fine-tuning)")
    ap.add_argument("--side", choices=["rewardsmith", "trl"], help=argparse.SUPPRESS)
    ap.add_argument("--ckpt", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    _configure(a.model)
    global LORA_R
    LORA_R = a.lora_r
    if a.side:  # child process: one side, JSON on the last line of stdout
        fn = run_rewardsmith if a.side == "rewardsmith" else run_trl
        print(json.dumps(fn(a.ckpt, a.steps, a.threads)))
        return
    print(f"One GRPO step on CPU: {'tiny Llama' if MODEL == 'tiny' else MODEL}, {PROMPTS} prompts x {GENERATIONS} completions of <= "
          f"{COMPLETION_LEN} tokens, loss grpo, beta 0, {f'LoRA r{LORA_R}' if LORA_R else 'full fine-tuning'}, "
          f"{a.threads} thread(s); median of steps "
          f"{a.warmup + 1}..{a.steps}, best of {a.rounds} alternating round(s)")
    best: dict[str, tuple[float, dict]] = {}
    with tempfile.TemporaryDirectory() as d:
        if MODEL == "tiny":
            n_params = build_checkpoint(Path(d))
        else:
            from rewardsmith.models import resolve

            d = str(resolve(MODEL))
            from safetensors import safe_open

            with safe_open(str(Path(d) / "model.safetensors"), "pt") as fh:
                n_params = sum(_prod(fh.get_slice(k).get_shape()) for k in fh.keys())
        for rnd in range(a.rounds):
            for side in ("rewardsmith", "trl"):
                env = dict(os.environ, TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1")
                p = subprocess.run([sys.executable, __file__, "--side", side, "--ckpt", d, "--steps", str(a.steps),
                                    "--threads", str(a.threads), "--model", MODEL, "--lora-r", str(LORA_R)],
                                   capture_output=True, text=True,
                                   env=env)
                if p.returncode != 0:
                    sys.exit(f"{side} failed:\n{p.stderr[-3000:]}")
                r = json.loads(p.stdout.strip().splitlines()[-1])
                st = r["stamps"]
                med = statistics.median([b - x for x, b in zip(st[:-1], st[1:])][a.warmup :])
                print(f"  round {rnd + 1} {side:12s} {med:.3f} s/step")
                if side not in best or med < best[side][0]:
                    best[side] = (med, r)
    print(f"model: {n_params:,} parameters")
    print(f"{'':14s}{'s/step':>9s}{'peak RSS MB':>13s}{'RSS before MB':>15s}{'mean compl. len':>17s}")
    per = {}
    for side, (med, r) in best.items():
        per[side] = med
        print(f"{side:14s}{med:9.3f}{r['peak_mb']:13.0f}{r['rss_before_mb']:15.0f}{r['completion_len']:17.1f}")
    ph = best["rewardsmith"][1].get("phases")
    if ph:
        print("rewardsmith per phase (median s over the timed steps): " + ", ".join(
            f"{k} {statistics.median(v[a.warmup:] or v):.2f}" for k, v in ph.items()))
    ratio = per["rewardsmith"] / per["trl"]
    target = 0.5 if MODEL == "tiny" else 0.7
    print(f"rewardsmith / TRL time per step: {ratio:.2f} (target <= {target:.2f}: {'met' if ratio <= target else 'NOT met'})")
    if MODEL != "tiny":
        mem = best["rewardsmith"][1]["peak_mb"] / best["trl"][1]["peak_mb"]
        print(f"rewardsmith / TRL peak RSS: {mem:.2f} (target <= 1.00: {'met' if mem <= 1.0 else 'NOT met'})")


if __name__ == "__main__":
    main()
