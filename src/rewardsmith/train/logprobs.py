"""Log-probabilities of sampled completions under a policy, and the update's micro-batches.

``token_logprobs(fwd, ro, temperature)`` -> ``log pi(token)`` of every completion token, (B, T).
``micro_batches(ro, max_tokens)`` cuts a rollout into row ranges the update runs one at a time
(forward, backward, gradients summed), each trimmed to its own longest completion.

Memory: the activations autograd keeps for one forward grow with the tokens in it (about 1.5 MB
per token for SmolLM2-135M in float32: 30 layers x ~13k floats), so the update's peak is set by
the largest micro-batch, not by the batch; vocabulary-wide logits exist for at most
``LOGPROB_CHUNK`` positions at a time.
"""

from __future__ import annotations

from typing import Any

from rewardsmith.train.fastlm import FastLM
from rewardsmith.train.rollout import Rollout, as_forward, expand_cache

__all__ = ["LOGPROB_CHUNK", "selected_logprobs", "token_logprobs", "micro_batches", "sub_rollout"]

LOGPROB_CHUNK = 256  # completion positions per LM-head chunk: 256 x 49,152 float32 logits = 50 MB


def _chunk_logprobs(h: Any, weight: Any, bias: Any, tok: Any, temperature: float, entropy: bool):
    import torch
    import torch.nn.functional as F

    logits = F.linear(h, weight, bias).float()
    if temperature != 1.0:
        logits = logits / temperature
    lse = torch.logsumexp(logits, -1)
    lp = logits.gather(-1, tok[:, None]).squeeze(-1) - lse
    if not entropy:
        return lp, lp.new_zeros(())
    with torch.no_grad():
        ent = lse - (torch.softmax(logits, -1) * logits).sum(-1)
    return lp, ent


def selected_logprobs(hidden: Any, weight: Any, bias: Any, tokens: Any, temperature: float,
                      with_entropy: bool = False):
    """``log softmax(hidden W^T + b)[token]`` (and the entropy) for N positions, (N,) each.

    The LM head runs on ``LOGPROB_CHUNK`` positions at a time; with gradients each chunk is
    recomputed in the backward pass (``torch.utils.checkpoint``), so at most one chunk of
    vocabulary-wide logits (and its gradient) exists at once, instead of B x T x V float32 logits
    and their copies (49,152 wide for SmolLM2), for one extra LM-head matmul."""
    import torch
    import torch.utils.checkpoint

    lps, ents = [], []
    grad = torch.is_grad_enabled() and (hidden.requires_grad or weight.requires_grad)
    for i in range(0, hidden.shape[0], LOGPROB_CHUNK):
        args = (hidden[i : i + LOGPROB_CHUNK], weight, bias, tokens[i : i + LOGPROB_CHUNK], temperature, with_entropy)
        if grad:
            lp, ent = torch.utils.checkpoint.checkpoint(_chunk_logprobs, *args, use_reentrant=False)
        else:
            lp, ent = _chunk_logprobs(*args)
        lps.append(lp)
        ents.append(ent)
    lp = torch.cat(lps) if lps else hidden.new_zeros(0)
    return lp, (torch.cat(ents) if with_entropy and ents else None)


def completion_hidden(fwd: FastLM, ro: Rollout):
    """Final hidden states (B, T, H) whose row t predicts completion token t. Each prompt runs
    once (its keys/values are then shared by its G completions, gradients summed through the
    copies), then the completions run on that cache: with a ~90-token chat prompt and G = 4 that
    is about half the tokens of a forward over every row's prompt + completion."""
    import torch

    G, Lp = ro.group_size, ro.prompt_len
    T = ro.input_ids.shape[1] - Lp
    mask = ro.forward_mask
    cache = fwd.new_cache()
    sl = slice(None, None, G)
    h_last = fwd(ro.input_ids[sl, :Lp], ro.position_ids[sl, :Lp],
                 None if mask is None else mask[sl, :Lp].bool(), cache, tail=1, hidden=True)
    h_last = h_last.repeat_interleave(G, 0)
    if T == 1:
        return h_last
    cache = expand_cache(cache, G)
    h = fwd(ro.input_ids[:, Lp:-1], ro.position_ids[:, Lp:-1],
            None if mask is None else mask[:, :-1].bool(), cache, hidden=True)
    return torch.cat([h_last, h], 1)


def token_logprobs(model: Any, ro: Rollout, temperature: float, with_entropy: bool = False):
    """log pi(token) of each completion token under ``softmax(logits / temperature)``, (B, T),
    zero outside ``ro.completion_mask``; and the entropy there when ``with_entropy``.

    ``model``: a transformers model or a forward from ``fastlm.make_forward``. With FastLM only
    the completion positions reach the LM head (``selected_logprobs``); transformers' forward
    computes ``logits_to_keep = T + 1`` positions of full logits."""
    import torch

    fwd = as_forward(model)
    T = ro.input_ids.shape[1] - ro.prompt_len
    tok = ro.input_ids[:, ro.prompt_len :]
    sel = ro.completion_mask
    if isinstance(fwd, FastLM):
        h = completion_hidden(fwd, ro)
        head = fwd.model.lm_head
        lp_sel, ent_sel = selected_logprobs(h[sel], head.weight, head.bias, tok[sel], temperature, with_entropy)
        logp = torch.zeros(sel.shape, dtype=lp_sel.dtype, device=sel.device).masked_scatter(sel, lp_sel)
        ent = None
        if with_entropy:
            ent = torch.zeros(sel.shape, dtype=lp_sel.dtype, device=sel.device).masked_scatter(sel, ent_sel)
        return logp, ent
    mask = ro.forward_mask
    logits = fwd(ro.input_ids, ro.position_ids, None if mask is None else mask.bool(), tail=T + 1)
    logits = logits[:, :-1].float()  # position t predicts token t + 1: the T completion tokens
    if temperature != 1.0:
        logits = logits / temperature
    lse = torch.logsumexp(logits, -1)
    logp = (logits.gather(-1, tok[..., None]).squeeze(-1) - lse) * sel
    if not with_entropy:
        return logp, None
    with torch.no_grad():
        p = torch.softmax(logits, -1)
        ent = (lse - (p * logits).sum(-1)) * sel
    return logp, ent




def sub_rollout(ro: Rollout, start: int, stop: int) -> Rollout:
    """Rows ``start:stop`` of ``ro`` (whole groups, or rows of one group), trimmed to their
    longest completion and without prompt columns that are padding in every one of these rows.
    Dropped columns are masked keys (softmax weight exactly 0) or never-read padding after a stop
    token, so each row's log-probs are those of the full batch up to floating-point order."""
    G, Lp = ro.group_size, ro.prompt_len
    cm = ro.completion_mask[start:stop]
    T = int(cm.sum(1).max())  # masks are prefixes: the longest completion here
    att = ro.attention_mask[start:stop, :Lp]
    c0 = int((att.cumsum(1) == 0).sum(1).min())  # leading padding shared by every row
    cols = slice(c0, Lp + T)
    whole = start % G == 0 and (stop - start) % G == 0
    return Rollout(ro.input_ids[start:stop, cols], ro.attention_mask[start:stop, cols],
                   ro.position_ids[start:stop, cols], cm[:, :T], Lp - c0, ro.completion_ids[start:stop],
                   bool((att[:, c0:] == 0).any()), G if whole else stop - start)


def micro_batches(ro: Rollout, max_tokens: int) -> list[tuple[slice, Rollout]]:
    """``[(rows, sub_rollout)]`` covering ``ro`` in order, each holding at most ``max_tokens``
    padded completion tokens (rows x its longest completion) where possible: whole groups are
    packed together (their prompts run once each); a group larger than the budget is cut into
    runs of rows (each run prefills the shared prompt once). ``max_tokens <= 0``: one batch."""
    B, G = ro.input_ids.shape[0], ro.group_size
    lens = ro.completion_mask.sum(1).tolist()
    if max_tokens <= 0 or B * max(lens) <= max_tokens:
        return [(slice(0, B), sub_rollout(ro, 0, B))]
    spans: list[tuple[int, int]] = []
    a, longest = 0, 0  # the open span of whole groups: rows a .. g0, its longest completion
    for g0 in range(0, B, G):
        g_long = max(lens[g0 : g0 + G])
        if g0 > a and (g0 + G - a) * max(longest, g_long) > max_tokens:
            spans.append((a, g0))
            a, longest = g0, 0
        if G * g_long > max_tokens:  # this group alone is over budget: runs of rows
            if g0 > a:
                spans.append((a, g0))
            k = max(1, max_tokens // g_long)
            spans += [(r, min(r + k, g0 + G)) for r in range(g0, g0 + G, k)]
            a, longest = g0 + G, 0
        else:
            longest = max(longest, g_long)
    if a < B:
        spans.append((a, B))
    return [(slice(s, e), sub_rollout(ro, s, e)) for s, e in spans]
