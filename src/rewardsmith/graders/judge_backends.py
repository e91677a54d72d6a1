"""Where an LLM judge's P(yes) comes from: a local transformers model or an OpenAI-compatible server.

Both take chat conversations (``[{role, content}, ...]`` ending with the user's question) and
return, per conversation, the probability of "Yes" for the judge's next token, normalized over
"Yes" and "No" (the RBR paper's feature):

    p = sum_{t in YES} P(t) / (sum_{t in YES} P(t) + sum_{t in NO} P(t))

where YES / NO are the token spellings "Yes", " Yes", "yes", "YES" (and the same for No).

* ``LocalBackend``: any transformers causal LM (``rewardsmith.models.load_causal_lm``, so a named
  model such as ``smollm2-135m`` or a local checkpoint), on CPU or GPU; one forward pass per
  batch, the full next-token distribution, no sampling.
* ``ServerBackend``: ``/v1/chat/completions`` (or ``/v1/completions``) of vLLM, SGLang or
  llama.cpp's server with ``max_tokens=1`` and ``top_logprobs``; async with bounded concurrency,
  retries with exponential backoff on connection errors, timeouts, 429 and 5xx, and a clear
  ``JudgeServerError`` when the server returns no logprobs. The server only lists its top-k
  tokens: when only one of Yes / No is among them, the other's probability is taken as the
  smallest listed one (an upper bound), and when neither is, the result is NaN.
"""

from __future__ import annotations

import asyncio
import math
import random
from typing import Any, Sequence

import numpy as np

__all__ = ["LocalBackend", "ServerBackend", "JudgeServerError", "make_backend",
           "yes_probability_from_top", "render_plain"]

YES = ("yes",)
NO = ("no",)
_SPELLINGS = ("Yes", " Yes", "yes", " yes", "YES", " YES")


class JudgeServerError(RuntimeError):
    """The judge's server failed, or answered without what the judge needs (logprobs)."""


def _norm_token(token: str) -> str:
    return token.replace("\u2581", " ").replace("\u0120", " ").strip().lower()


def yes_probability_from_top(top: Sequence[tuple[str, float]]) -> float:
    """P(yes) normalized over yes / no from a top-k list of (token, logprob); NaN when neither is
    listed; a missing one is bounded by the smallest listed probability."""
    py = pn = 0.0
    seen_y = seen_n = False
    lowest = math.inf
    for token, lp in top:
        if lp is None or not math.isfinite(float(lp)):
            continue
        p = math.exp(float(lp))
        lowest = min(lowest, p)
        t = _norm_token(str(token))
        if t in YES:
            py += p
            seen_y = True
        elif t in NO:
            pn += p
            seen_n = True
    if not seen_y and not seen_n:
        return float("nan")
    if not seen_y:
        py = lowest
    if not seen_n:
        pn = lowest
    return py / (py + pn) if py + pn > 0 else float("nan")


def render_plain(messages: Sequence[dict[str, str]]) -> str:
    """A conversation as plain text (for a model without a chat template, or ``/v1/completions``)."""
    parts = []
    for m in messages:
        role = m["role"]
        if role == "system":
            parts.append(m["content"])
        elif role == "user":
            parts.append(m["content"])
        else:
            parts.append(f"Answer: {m['content']}")
    return "\n\n".join(parts) + "\n\nAnswer:"


class LocalBackend:
    """P(yes) from a transformers causal LM in this process.

    model: a name or path for ``rewardsmith.models.load_causal_lm`` (default ``smollm2-135m``),
    or pass ``model_and_tokenizer`` already loaded. ``max_tokens`` bounds a prompt (longer ones
    keep their end, where the question is).
    """

    def __init__(self, model: str = "smollm2-135m", *, device: str = "cpu", dtype: Any = None,
                 batch_size: int = 16, max_tokens: int = 2048, model_and_tokenizer: Any = None):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size: got {batch_size!r}; expected an integer >= 1")
        if not isinstance(max_tokens, int) or max_tokens < 16:
            raise ValueError(f"max_tokens: got {max_tokens!r}; expected an integer >= 16")
        self.model_name = str(model)
        self.device = device
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        if model_and_tokenizer is None:
            from rewardsmith.models import load_causal_lm

            kw = {"device": device}
            if dtype is not None:
                kw["dtype"] = dtype
            model_and_tokenizer = load_causal_lm(model, **kw)
        self.model, self.tokenizer = model_and_tokenizer
        self.model.eval()
        self.yes_ids = self._token_ids(_SPELLINGS)
        self.no_ids = self._token_ids(tuple(s.replace("Yes", "No").replace("yes", "no")
                                            .replace("YES", "NO") for s in _SPELLINGS))
        if not self.yes_ids or not self.no_ids:
            raise ValueError(f"model {self.model_name!r}: its tokenizer has no single token for "
                             "'Yes' or 'No'; a yes/no judge needs both")
        self.chat = bool(getattr(self.tokenizer, "chat_template", None))
        import inspect

        # transformers 5.x renamed past_key_values to cache (the old name warns, then goes)
        params = inspect.signature(self.model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"

    @property
    def id(self) -> str:
        return f"local:{self.model_name}"

    def config(self) -> dict[str, Any]:
        return {"backend": "local", "model": self.model_name, "device": self.device,
                "batch_size": self.batch_size, "max_tokens": self.max_tokens}

    def _token_ids(self, spellings: Sequence[str]) -> list[int]:
        ids = set()
        for s in spellings:
            enc = self.tokenizer.encode(s, add_special_tokens=False)
            if len(enc) == 1:
                ids.add(int(enc[0]))
        return sorted(ids)

    def render(self, messages: Sequence[dict[str, str]]) -> str:
        if self.chat:
            return self.tokenizer.apply_chat_template(list(messages), tokenize=False,
                                                      add_generation_prompt=True)
        return render_plain(messages)

    def _split(self, messages: Sequence[dict[str, str]]) -> tuple[str, str]:
        """(shared prefix, own suffix) of a conversation's text: the prefix is everything before
        the last user turn (system prompt and few-shot turns), the same for every triple of one
        proposition, so its keys and values are computed once."""
        full = self.render(messages)
        if len(messages) > 1:
            head = (self.tokenizer.apply_chat_template(list(messages[:-1]), tokenize=False)
                    if self.chat else render_plain(messages[:-1])[: -len("\n\nAnswer:")])
            if full.startswith(head) and head:
                return head, full[len(head):]
        return "", full

    def _prefix_cache(self, prefix_ids: list[int], device: Any):
        import torch

        with torch.inference_mode():
            out = self.model(input_ids=torch.tensor([prefix_ids], device=device), use_cache=True)
        return out.cache if self._cache_kw == "cache" else out.past_key_values

    def yes_probabilities(self, conversations: Sequence[Sequence[dict[str, str]]]) -> np.ndarray:
        """P(yes) of each conversation, ``batch_size`` at a time. Conversations sharing a prefix
        (system prompt + few-shot turns) run it once; the rest is batched by length, right-padded,
        and read at each row's last token."""
        import copy

        import torch

        out = np.full(len(conversations), np.nan)
        if not len(conversations):
            return out
        tok = self.tokenizer
        groups: dict[str, list[tuple[int, list[int]]]] = {}
        for i, conv in enumerate(conversations):
            head, tail = self._split(conv)
            groups.setdefault(head, []).append((i, tok.encode(tail, add_special_tokens=False)))
        pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
        yes = torch.tensor(self.yes_ids)
        no = torch.tensor(self.no_ids)
        device = next(self.model.parameters()).device
        for head, rows in groups.items():
            head_ids = tok.encode(head, add_special_tokens=False) if head else []
            if len(head_ids) > self.max_tokens // 2:  # a prefix that long: no sharing
                rows = [(i, head_ids + e) for i, e in rows]
                head_ids = []
            budget = self.max_tokens - len(head_ids)
            rows = [(i, e[-budget:]) for i, e in rows]  # keep the end, where the question is
            cache = self._prefix_cache(head_ids, device) if head_ids else None
            rows.sort(key=lambda r: len(r[1]))
            for start in range(0, len(rows), self.batch_size):
                part = rows[start:start + self.batch_size]
                n, width = len(part), max(len(e) for _, e in part)
                ids = torch.full((n, width), pad, dtype=torch.long)
                mask = torch.zeros((n, len(head_ids) + width), dtype=torch.long)
                mask[:, : len(head_ids)] = 1
                last = torch.tensor([len(e) - 1 for _, e in part])
                for r, (_, e) in enumerate(part):  # right padding: real tokens never see it
                    ids[r, : len(e)] = torch.tensor(e)
                    mask[r, len(head_ids): len(head_ids) + len(e)] = 1
                pos = torch.arange(len(head_ids), len(head_ids) + width).expand(n, -1)
                kw: dict[str, Any] = {}
                if cache is not None:
                    past = copy.deepcopy(cache)
                    past.batch_repeat_interleave(n)
                    kw[self._cache_kw] = past
                with torch.inference_mode():
                    logits = self.model(input_ids=ids.to(device), attention_mask=mask.to(device),
                                        position_ids=pos.to(device), use_cache=cache is not None,
                                        **kw).logits
                logits = logits[torch.arange(n), last.to(logits.device)].float().cpu()
                logp = torch.log_softmax(logits, dim=-1)
                ly = torch.logsumexp(logp[:, yes], dim=-1)
                ln = torch.logsumexp(logp[:, no], dim=-1)
                out[[i for i, _ in part]] = torch.sigmoid(ly - ln).numpy()
        return out


def _base_url(url: str) -> str:
    url = url.strip().rstrip("/")
    for suffix in ("/chat/completions", "/completions"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    if url.endswith("/v1"):
        url = url[:-3]
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"url: got {url!r}; expected http://host:port (an OpenAI-compatible server)")
    return url


class ServerBackend:
    """P(yes) from an OpenAI-compatible server that returns logprobs (vLLM, SGLang, llama.cpp).

    url: ``http://host:port`` (``/v1`` optional); api: ``chat`` (the server applies the model's
    chat template) or ``completions`` (a plain-text prompt); concurrency: requests in flight at
    once; timeout: seconds per request; retries: further tries after a connection error, timeout,
    429 or 5xx, waiting ``backoff * 2**attempt`` (plus up to 10% jitter) in between.
    """

    def __init__(self, url: str, *, model: str | None = None, api: str = "chat",
                 concurrency: int = 8, timeout: float = 60.0, retries: int = 3,
                 backoff: float = 0.5, top_logprobs: int = 20, api_key: str | None = None):
        if api not in ("chat", "completions"):
            raise ValueError(f"api: got {api!r}; expected 'chat' or 'completions'")
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency: got {concurrency!r}; expected an integer >= 1")
        if not (isinstance(timeout, (int, float)) and timeout > 0):
            raise ValueError(f"timeout: got {timeout!r}; expected seconds > 0")
        if not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries: got {retries!r}; expected an integer >= 0")
        if not isinstance(top_logprobs, int) or not 1 <= top_logprobs <= 20:
            raise ValueError(f"top_logprobs: got {top_logprobs!r}; expected 1..20")
        self.url = _base_url(url)
        self.model = model
        self.api = api
        self.concurrency = concurrency
        self.timeout = float(timeout)
        self.retries = retries
        self.backoff = float(backoff)
        self.top_logprobs = top_logprobs
        self.api_key = api_key
        self.retried = 0
        """Requests retried so far (for benchmarks and tests)."""

    @property
    def id(self) -> str:
        return f"server:{self.url}|{self.model or ''}|{self.api}"

    def config(self) -> dict[str, Any]:
        return {"backend": "server", "url": self.url, "model": self.model, "api": self.api,
                "concurrency": self.concurrency, "timeout": self.timeout, "retries": self.retries,
                "backoff": self.backoff, "top_logprobs": self.top_logprobs}

    def _request(self, messages: Sequence[dict[str, str]]) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"model": self.model or "judge", "max_tokens": 1, "temperature": 0.0}
        if self.api == "chat":
            body |= {"messages": list(messages), "logprobs": True, "top_logprobs": self.top_logprobs}
            return self.url + "/v1/chat/completions", body
        body |= {"prompt": render_plain(messages), "logprobs": self.top_logprobs}
        return self.url + "/v1/completions", body

    def _parse(self, data: Any) -> float:
        try:
            choice = data["choices"][0]
        except (KeyError, IndexError, TypeError):
            raise JudgeServerError(f"{self.url}: the reply has no choices: {str(data)[:300]}") from None
        lp = choice.get("logprobs") if isinstance(choice, dict) else None
        top: list[tuple[str, float]] = []
        if isinstance(lp, dict) and self.api == "chat" and lp.get("content"):
            first = lp["content"][0]
            top = [(t.get("token", ""), t.get("logprob")) for t in first.get("top_logprobs") or []]
            if not top and "token" in first:
                top = [(first["token"], first.get("logprob"))]
        elif isinstance(lp, dict) and lp.get("top_logprobs"):
            first = lp["top_logprobs"][0] or {}
            top = list(first.items()) if isinstance(first, dict) else []
        if not top:
            raise JudgeServerError(
                f"{self.url}: the server returned no logprobs for the judge's token (reply: "
                f"{str(choice)[:300]}); the judge needs a server that returns top_logprobs "
                f"(vLLM, SGLang, llama.cpp's server) and api={self.api!r} that supports them")
        return yes_probability_from_top(top)

    async def _one(self, client: Any, sem: asyncio.Semaphore, messages) -> float:
        import httpx

        url, body = self._request(messages)
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self.retried += 1
                delay = self.backoff * 2 ** (attempt - 1)
                await asyncio.sleep(delay * (1 + 0.1 * random.random()))
            async with sem:
                try:
                    resp = await client.post(url, json=body)
                except (httpx.TransportError, httpx.TimeoutException) as exc:
                    last = f"{type(exc).__name__}: {exc}"
                    continue
            if resp.status_code >= 400 and resp.status_code != 429 and "logprobs" in resp.text[:2000].lower():
                # a configuration error, not a busy server (llama.cpp's server started without
                # --logits_all answers HTTP 500 "logprobs is not supported ..."): no retry
                raise JudgeServerError(
                    f"{url}: the server refuses logprobs (HTTP {resp.status_code}: {resp.text[:300]}); "
                    "the judge reads P(yes) from the first token's top_logprobs: start the server "
                    "with them enabled (llama.cpp: --logits_all true)")
            if resp.status_code == 429 or resp.status_code >= 500:
                last = f"HTTP {resp.status_code}: {resp.text[:200]}"
                continue
            if resp.status_code != 200:
                raise JudgeServerError(f"{url}: HTTP {resp.status_code}: {resp.text[:300]}")
            try:
                data = resp.json()
            except ValueError:
                raise JudgeServerError(f"{url}: the reply is not JSON: {resp.text[:300]}") from None
            return self._parse(data)
        raise JudgeServerError(f"{url}: no answer after {self.retries + 1} tries "
                               f"(timeout {self.timeout:g} s each); last error: {last}")

    async def ayes_probabilities(self, conversations) -> np.ndarray:
        import httpx

        sem = asyncio.Semaphore(self.concurrency)
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else None
        limits = httpx.Limits(max_connections=self.concurrency)
        async with httpx.AsyncClient(timeout=self.timeout, limits=limits, headers=headers) as client:
            ps = await asyncio.gather(*(self._one(client, sem, c) for c in conversations))
        return np.asarray(ps, dtype=np.float64)

    def yes_probabilities(self, conversations: Sequence[Sequence[dict[str, str]]]) -> np.ndarray:
        """P(yes) of each conversation; blocks (runs the event loop in a thread if one is running)."""
        if not conversations:
            return np.zeros(0)
        coro = self.ayes_probabilities(list(conversations))
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coro)
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, coro).result()


def make_backend(model: str | dict[str, Any], **options: Any):
    """``LocalBackend`` for a model name or path, ``ServerBackend`` for an ``http(s)://`` URL; a
    dict is a saved ``config()``."""
    if isinstance(model, dict):
        cfg = dict(model)
        kind = cfg.pop("backend", None)
        if kind == "server":
            return ServerBackend(cfg.pop("url"), **cfg, **options)
        if kind == "local":
            return LocalBackend(cfg.pop("model"), **cfg, **options)
        raise ValueError(f"judge backend: got {kind!r}; expected 'local' or 'server'")
    if not isinstance(model, str) or not model.strip():
        raise ValueError(f"model: got {model!r}; expected a model name, a path or an http(s):// URL")
    if model.startswith(("http://", "https://")):
        return ServerBackend(model, **options)
    return LocalBackend(model, **options)
