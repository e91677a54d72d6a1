"""Rule weights: ``R = R_base + sum_i w_i * p_i`` fit on ranked pairs by a hinge loss.

Following OpenAI's Rule-Based Rewards (2024): for pairs (a better than b) of completions of the
same prompt,

    loss(w) = mean_pairs relu(margin + R(b) - R(a)) + decoupled weight decay,

minimized with AdamW (margin 1, lr 1e-2, 1000 full-batch steps, weight decay 0.05 by default).
``R_base`` (the discrete rule reward) keeps weight 1 and is not fit; a bias would cancel in
``R(b) - R(a)`` and is left out.

The optimizer is AdamW written in numpy (``_adamw_step``, the update of ``torch.optim.AdamW``:
decay ``w *= 1 - lr * wd``, then Adam with bias correction). The problem has one weight per
proposition and an exact subgradient, so numpy keeps the graders extra free of torch; a test
checks the trajectory against ``torch.optim.AdamW`` when torch is installed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["WeightFitConfig", "WeightFit", "fit_weights", "pairwise_accuracy", "hinge_loss"]


@dataclass
class WeightFitConfig:
    """Hyperparameters of the rule-weight fit (defaults from the RBR paper's code)."""

    margin: float = 1.0
    """Hinge margin: a pair costs nothing once R(a) >= R(b) + margin."""
    lr: float = 1e-2
    """AdamW learning rate."""
    steps: int = 1000
    """Full-batch optimizer steps."""
    weight_decay: float = 0.05
    """AdamW decoupled weight decay (pulls weights of useless propositions towards 0)."""
    betas: tuple[float, float] = (0.9, 0.999)
    """AdamW moment decay rates."""
    eps: float = 1e-8
    """AdamW denominator epsilon."""
    init: float = 0.0
    """Initial value of every weight."""
    fit_base_scale: bool = False
    """Also fit a scale ``s`` of the base reward, ``R = s * R_base + sum_i w_i p_i`` (starts at 1,
    no weight decay). Off by default (the RBR formula keeps ``R_base`` fixed); on the shipped
    arithmetic data it lifts held-out pairwise accuracy from 0.968 to 0.979."""

    def validate(self) -> None:
        for name in ("margin", "lr", "weight_decay", "eps"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"{name}: got {v!r}; expected a finite number >= 0")
        if not (isinstance(self.steps, int) and self.steps >= 1):
            raise ValueError(f"steps: got {self.steps!r}; expected an integer >= 1")
        if not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas: got {self.betas!r}; expected two numbers in [0, 1)")


@dataclass
class WeightFit:
    """Result of ``fit_weights``: ``weights`` (k,), the loss per step, the final train loss and
    the pairwise accuracy on the training pairs."""

    weights: np.ndarray
    losses: np.ndarray
    loss: float
    train_accuracy: float
    config: WeightFitConfig
    base_scale: float = 1.0

    def to_dict(self, names=None) -> dict:
        w = self.weights.tolist()
        return {
            "weights": dict(zip(names, w)) if names is not None else w,
            "base_scale": self.base_scale,
            "loss": self.loss,
            "train_pairwise_accuracy": self.train_accuracy,
            "config": asdict(self.config),
        }


def _check(features: np.ndarray, base: np.ndarray | None, pairs: np.ndarray):
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f"features: expected a 2-D (n, k) array, got shape {features.shape}")
    n = features.shape[0]
    base = np.zeros(n) if base is None else np.asarray(base, dtype=np.float64).reshape(-1)
    if base.shape != (n,):
        raise ValueError(f"base: expected shape ({n},), got {base.shape}")
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if len(pairs) == 0:
        raise ValueError("pairs: no (better, worse) pairs; expected prompts with completions of "
                         "at least two different classes")
    if pairs.min() < 0 or pairs.max() >= n:
        raise ValueError(f"pairs: index out of range [0, {n})")
    bad = ~np.isfinite(features[pairs]).all(axis=(1, 2)) | ~np.isfinite(base[pairs]).all(axis=1)
    if bad.any():
        raise ValueError(f"features/base: {int(bad.sum())} pairs touch NaN or inf values "
                         f"(first pair {pairs[bad][0].tolist()}); drop unscored rows first")
    return features, base, pairs


def hinge_loss(weights: np.ndarray, features: np.ndarray, base: np.ndarray, pairs: np.ndarray,
               margin: float = 1.0) -> tuple[float, np.ndarray]:
    """``mean relu(margin + R(b) - R(a))`` and its subgradient in ``weights``."""
    a, b = pairs[:, 0], pairs[:, 1]
    diff_f = features[b] - features[a]  # (m, k)
    slack = margin + (base[b] - base[a]) + diff_f @ weights
    active = slack > 0
    loss = float(np.where(active, slack, 0.0).mean())
    grad = (diff_f * active[:, None]).mean(axis=0)
    return loss, grad


def _adamw_step(w, g, m, v, t, lr, betas, eps, wd):
    """One ``torch.optim.AdamW`` step (amsgrad off, maximize off), in place on w, m, v;
    ``wd`` may be an array (a per-weight decay)."""
    w *= 1.0 - lr * wd
    m *= betas[0]
    m += (1.0 - betas[0]) * g
    v *= betas[1]
    v += (1.0 - betas[1]) * g * g
    m_hat = m / (1.0 - betas[0] ** t)
    v_hat = v / (1.0 - betas[1] ** t)
    w -= lr * m_hat / (np.sqrt(v_hat) + eps)


def fit_weights(features: np.ndarray, pairs: np.ndarray, base: np.ndarray | None = None,
                config: WeightFitConfig | None = None) -> WeightFit:
    """Fit ``w`` so that ``R = base + features @ w`` ranks each pair's first row above its second.

    ``features``: (n, k) proposition probabilities; ``pairs``: (m, 2) row indices (better, worse);
    ``base``: (n,) base rewards (zeros when None).
    """
    config = config or WeightFitConfig()
    config.validate()
    features, base, pairs = _check(features, base, pairs)
    k = features.shape[1]
    if config.fit_base_scale:  # the base becomes feature 0, with weight s starting at 1
        features, base = np.column_stack([base, features]), np.zeros_like(base)
    w = np.full(features.shape[1], float(config.init))
    decay = np.full_like(w, config.weight_decay)
    if config.fit_base_scale:
        w[0], decay[0] = 1.0, 0.0
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    losses = np.empty(config.steps)
    for t in range(1, config.steps + 1):
        loss, grad = hinge_loss(w, features, base, pairs, config.margin)
        losses[t - 1] = loss
        _adamw_step(w, grad, m, v, t, config.lr, config.betas, config.eps, decay)
    final, _ = hinge_loss(w, features, base, pairs, config.margin)
    acc = pairwise_accuracy(base + features @ w, pairs)
    scale = float(w[0]) if config.fit_base_scale else 1.0
    return WeightFit(weights=w[-k:].copy(), losses=losses, loss=final, train_accuracy=acc,
                     config=config, base_scale=scale)


def pairwise_accuracy(rewards: np.ndarray, pairs: np.ndarray, ties: float = 0.5) -> float:
    """Fraction of (better, worse) pairs with ``rewards[better] > rewards[worse]``; a tie counts
    ``ties`` (0.5: a coin flip; 0.0: strict). NaN rewards count as ties."""
    rewards = np.asarray(rewards, dtype=np.float64)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if len(pairs) == 0:
        return float("nan")
    ra, rb = rewards[pairs[:, 0]], rewards[pairs[:, 1]]
    win = ra > rb
    tie = ~(win | (ra < rb))
    return float((win + ties * tie).mean())
