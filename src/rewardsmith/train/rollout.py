"""Rollout: G sampled completions per prompt, batched, with a KV cache (our loop, not ``generate``).

``rollout(policy, prompts, G, temperature, max_new_tokens, fwd)`` returns a ``Rollout``: the
prompt (left-padded) and completion (right-padded) token ids of every row, their masks and
positions; rows g*G .. g*G+G-1 share prompt g.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from rewardsmith.train.fastlm import FastLM, HFForward, make_forward
from rewardsmith.train.model import Policy

__all__ = ["Rollout", "rollout", "as_forward", "expand_cache"]


@dataclass
class Rollout:
    input_ids: Any  # (B, Lp + T) prompt (left-padded) then completion (right-padded)
    attention_mask: Any  # (B, Lp + T) 1 on real prompt tokens and completion tokens
    position_ids: Any  # (B, Lp + T)
    completion_mask: Any  # (B, T) bool, completion tokens up to and including the stop token
    prompt_len: int  # Lp
    completion_ids: list[list[int]]  # unpadded, per completion
    left_padded: bool  # prompts differ in length: forwards need the attention mask
    group_size: int = 1  # rows g*G .. g*G+G-1 share one prompt (forwards run each prompt once)

    @property
    def forward_mask(self) -> Any:
        """The mask a forward pass needs: None without left padding (the padding after a stop
        token is never attended to by earlier tokens), which skips building a 4-D mask."""
        return self.attention_mask if self.left_padded else None



def as_forward(model_or_fwd: Any) -> FastLM | HFForward:
    """A forward from ``fastlm.make_forward`` as is; a model -> its default forward."""
    return model_or_fwd if isinstance(model_or_fwd, (FastLM, HFForward)) else make_forward(model_or_fwd)


def expand_cache(cache: list, G: int) -> list:
    """A FastLM KV cache of P prompts -> one of P*G rows (each prompt's keys/values G times)."""
    return [(k.repeat_interleave(G, 0), v.repeat_interleave(G, 0)) for k, v in cache]


def rollout(policy: Policy, prompts: Sequence[list[int]], group_size: int, temperature: float,
            max_new_tokens: int, fwd: FastLM | HFForward | None = None) -> Rollout:
    """Sample ``group_size`` completions per prompt from ``softmax(logits / temperature)``.

    Our own loop with a KV cache, not ``generate``. Measured here on the tiny policy, 8 x 8
    completions of 16 tokens, one thread (best of 7): ``generate`` 47 ms, this loop over
    transformers' ``forward`` 36 ms, over ``fastlm.FastLM`` (the default ``fwd`` for Llama/Qwen2)
    25 ms; ``generate`` spends its time in per-token bookkeeping (logits processors, stopping
    criteria, cache objects). Stops at EOS or ``</answer>`` (a single token or a token sequence).

    With FastLM, each prompt is prefilled once and its KV cache shared by its G rows (a chat
    prompt with a system turn and an example is ~90 tokens: G times less prefill), and rows that
    have stopped are dropped from the batch (the cache is compacted once a quarter of the rows
    still decoded are finished), so the step costs what the unfinished completions cost.
    """
    import torch

    model = policy.model
    fwd = as_forward(model if fwd is None else fwd)
    fast = isinstance(fwd, FastLM)
    device = next(model.parameters()).device
    G, P = group_size, len(prompts)
    B, Lp = P * G, max(map(len, prompts))
    ids_p = torch.tensor([[policy.pad_id] * (Lp - len(p)) + list(p) for p in prompts], device=device)
    att_p = torch.tensor([[0] * (Lp - len(p)) + [1] * len(p) for p in prompts], device=device)
    pos_p = (att_p.cumsum(-1) - 1).clamp(min=0)
    left_padded = len({len(p) for p in prompts}) > 1
    stop_ids = torch.tensor(policy.stop_ids, device=device)
    stop_seq = torch.tensor(policy.stop_seq, device=device) if policy.stop_seq else None
    L = len(policy.stop_seq)
    ids, att, pos = (x.repeat_interleave(G, 0) for x in (ids_p, att_p, pos_p))
    dec_pos = pos[:, -1:] + 1 + torch.arange(max_new_tokens, device=device)  # (B, T) positions
    toks = torch.full((B, max_new_tokens), policy.pad_id, dtype=torch.long, device=device)
    stop_at = torch.full((B,), max_new_tokens - 1, dtype=torch.long, device=device)  # index of the stop token
    rows = torch.arange(B, device=device)  # the rows still in the decoding batch
    finished = torch.zeros(B, dtype=torch.bool, device=device)  # per row of `rows`
    was_training = model.training
    model.eval()
    T = 0
    with torch.inference_mode():  # less per-op bookkeeping than no_grad; outputs re-enter autograd below
        cache = fwd.new_cache()
        fwd.freeze()
        if fast:
            logits = fwd(ids_p, pos_p, att_p.bool() if left_padded else None, cache, tail=1)[:, -1]
            cache = expand_cache(cache, G)
            logits = logits.repeat_interleave(G, 0)
        else:
            logits = fwd(ids, pos, att.bool() if left_padded else None, cache, tail=1)[:, -1]
        full_att = att.bool()
        for t in range(max_new_tokens):
            scaled = logits.float() if temperature == 1.0 else logits.float() / temperature
            nxt = torch.multinomial(torch.softmax(scaled, dim=-1), 1)  # (n, 1)
            toks[rows, t] = nxt[:, 0]
            T = t + 1
            hit = torch.isin(nxt[:, 0], stop_ids)
            if stop_seq is not None and t + 1 >= L:
                hit = hit | (toks[rows, t + 1 - L : t + 1] == stop_seq).all(1)
            new = hit & ~finished
            stop_at[rows[new]] = t
            finished |= hit
            if t == max_new_tokens - 1 or bool(finished.all()):
                break
            if fast and int(finished.sum()) * 4 >= len(rows):  # compact: keep the unfinished rows
                keep = (~finished).nonzero()[:, 0]
                rows, finished, nxt = rows[keep], finished[keep], nxt[keep]
                cache = [(k[keep], v[keep]) for k, v in cache]
                full_att = full_att[keep]
            if left_padded:
                full_att = torch.cat([full_att, torch.ones_like(full_att[:, :1])], 1)
            logits = fwd(nxt, dec_pos[rows, t : t + 1], full_att if left_padded else None, cache,
                         tail=1)[:, -1]
    fwd.unfreeze()
    model.train(was_training)
    # a completion is its tokens up to and including its first stop; later samples become padding
    cmask = torch.arange(T, device=device)[None] <= stop_at[:, None]
    comp = torch.where(cmask, toks[:, :T], policy.pad_id)
    input_ids = torch.cat([ids, comp], 1)
    attention_mask = torch.cat([att, cmask.long()], 1)
    position_ids = torch.cat([pos, dec_pos[:, :T]], 1)
    comp_list = [c[: int(n) + 1] for c, n in zip(comp.tolist(), stop_at.clamp(max=T - 1).tolist())]
    return Rollout(input_ids, attention_mask, position_ids, cmask, Lp, comp_list, left_padded, G)
