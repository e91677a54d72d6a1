"""Judgements per second of the LLM judge: local backend (cache off / on, batch sizes) and, where
a llama.cpp server can be started from ``.venv-llama`` (``make install-llama``), the server
backend at several concurrencies. No target number: the table is the deliverable.

    python benchmarks/judge.py                        # smollm2-135m, CPU, 16 triples
    python benchmarks/judge.py --triples 64 --batch-sizes 1,8,32 --concurrency 1,4,16
    python benchmarks/judge.py --device cuda --model /path/to/larger-judge   # on a GPU

One triple = one (prompt, completion, proposition) judgement, few-shot on (the shipped
propositions' two examples each), completions from the shipped real-completion set.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _triples(n: int):
    from rewardsmith.graders.data import shipped_data_path
    from rewardsmith.graders.judge_propositions import load_propositions

    props = load_propositions()
    try:
        rows = [json.loads(x) for x in open(shipped_data_path("real_completions.jsonl"))]
    except ValueError:
        rows = [{"prompt": "What is 47+38?", "text": "40+30=70, 7+8=15, so 85."}]
    out = []
    i = 0
    while len(out) < n:
        r = rows[i % len(rows)]
        out.append((r["prompt"], r["text"], props[i % len(props)]))
        i += 1
    return out


def _rate(judge, triples, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        convs = [judge.conversation(p, c, s) for p, c, s in triples]
        t = time.perf_counter()
        judge.judge_conversations(convs)
        best = min(best, time.perf_counter() - t)
    return len(triples) / best


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_llama(threads: int):
    import httpx

    from rewardsmith import models

    py = ROOT / ".venv-llama" / "bin" / "python"
    gguf = models.NAMED_MODELS["smollm2-135m"].locate()
    if not (ROOT / ".venv-llama" / ".installed").exists() or gguf is None:
        return None, None
    port = _free_port()
    proc = subprocess.Popen([str(py), "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", "4096", "--n_threads", str(threads),
                             "--logits_all", "true"],  # without it the server refuses logprobs
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            if httpx.get(url + "/v1/models", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    return None, None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--triples", type=int, default=16)
    ap.add_argument("--batch-sizes", default="1,4,16,32")
    ap.add_argument("--concurrency", default="1,4,16")
    ap.add_argument("--threads", type=int, default=2, help="torch / llama.cpp threads")
    ap.add_argument("--no-server", action="store_true")
    args = ap.parse_args()

    import torch

    from rewardsmith.graders.judge import LLMJudge

    torch.set_num_threads(args.threads)
    triples = _triples(args.triples)
    rows = []
    judge = LLMJudge(args.model, device=args.device, cache=False)
    for bs in [int(x) for x in args.batch_sizes.split(",")]:
        judge.backend.batch_size = bs
        rows.append((f"local {args.model} ({args.device})", f"batch {bs}", "off", _rate(judge, triples)))
        print(rows[-1], flush=True)
    cached = LLMJudge(judge.backend, cache=True)
    cached.judge_conversations([cached.conversation(p, c, s) for p, c, s in triples])  # fill
    rows.append((f"local {args.model} ({args.device})", f"batch {judge.backend.batch_size}", "on (all hits)",
                 _rate(cached, triples, repeat=3)))
    print(rows[-1], flush=True)
    if not args.no_server:
        proc, url = _start_llama(args.threads)
        if proc is None:
            print("no llama.cpp server (.venv-llama absent: make install-llama): server rows skipped")
        else:
            try:
                for c in [int(x) for x in args.concurrency.split(",")]:
                    sj = LLMJudge(url, api="completions", concurrency=c, cache=False, timeout=300)
                    sj.judge_conversations([sj.conversation(*triples[0])])  # warm
                    rows.append(("llama.cpp server smollm2-135m Q4_1", f"concurrency {c}", "off",
                                 _rate(sj, triples)))
                    print(rows[-1], flush=True)
            finally:
                proc.terminate()
    print(f"\n{len(triples)} triples, few-shot on, {args.threads} threads\n")
    print("| backend | setting | cache | judgements/s |\n|---|---|---|---|")
    for b, s, c, r in rows:
        print(f"| {b} | {s} | {c} | {r:,.2f} |")


if __name__ == "__main__":
    main()
