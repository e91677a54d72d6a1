"""The estimators: one public function each, its formula in its docstring and its body.

Every estimator but ``rank`` (and ``raw``) is affine per group,

    A_i = a_g * (r_i - mean_g),   a_g = 0 for a group with < 2 valid rewards or all equal,

and differs from the others only in its per-group scale ``a_g``, which its body spells out as a
function of the group's statistics ``g`` (:class:`~rewardsmith.advantages.grouping.GroupStats`):

    grpo       a_g = 1 / (std_g + eps)
    dr_grpo    a_g = 1
    rloo       a_g = n_g / (n_g - 1)
    batch_std  a_g = 1 / (std_batch + eps)

``_affine`` runs that scale on the fast path (``fast_numpy`` or ``fast_torch``); the same
estimators written as plain loops over groups are in ``reference.py``. Also here: the registry
``ESTIMATORS``, :func:`compute` by name and :func:`check_estimator`, the one check of estimator
names and options.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable

import numpy as np

from rewardsmith.advantages.fast_numpy import _affine_np, _rank_np
from rewardsmith.advantages.fast_torch import (
    _affine_torch,
    _rank_torch,
    _torch_bins,
    _torch_prepare,
    _torch_raise_inf,
)
from rewardsmith.advantages.grouping import GroupStats, _as_rewards, _bins, _is_torch, _validate_rewards

# --------------------------------------------------------------------------------------------
# Option checks: one wording, FIELD: expected WHAT, got VALUE
# --------------------------------------------------------------------------------------------


def _check_ddof(ddof: Any, field: str = "ddof") -> int:
    if isinstance(ddof, bool) or not isinstance(ddof, (int, float, np.integer, np.floating)) \
            or ddof not in (0, 1):
        raise ValueError(_invalid(field, "0 (population) or 1 (Bessel)", ddof))
    return int(ddof)


def _check_eps(eps: Any, field: str = "eps") -> float:
    if isinstance(eps, bool) or not (
        isinstance(eps, (int, float, np.floating, np.integer)) and math.isfinite(eps) and eps >= 0
    ):
        raise ValueError(_invalid(field, "a finite number >= 0", eps))
    return float(eps)


def _invalid(field: str, expected: str, value: Any, note: str = "") -> str:
    """The one wording of a bad estimator name or option: ``FIELD: expected WHAT, got VALUE``."""
    return f"{field}: expected {expected}, got {value!r}" + (f" ({note})" if note else "")


# --------------------------------------------------------------------------------------------
# Estimators
# --------------------------------------------------------------------------------------------


def _affine(rewards: Any, groups: Any, group_size: Any, scale: Callable[[GroupStats], Any],
            batch: bool = False) -> Any:
    """``A_i = a_g * (r_i - mean_g)`` with ``a_g = scale(g)`` from group ``g``'s statistics,
    ``a_g = 0`` for constant and singleton groups and ``A_i = 0`` for a NaN reward, on the fast
    path for the input's type. ``batch``: the scale needs every group's statistics at once."""

    def per_group(st: GroupStats) -> Any:
        with np.errstate(divide="ignore"):  # 1/0 only on constant groups (eps=0): they get a_g=0
            return scale(st) + st.count * 0.0  # a scale that is one number -> one per group

    if _is_torch(rewards):
        return _affine_torch(rewards, groups, group_size, per_group)
    r = _as_rewards(rewards)
    return _affine_np(r, _bins(r.shape[0], groups, group_size), per_group, batch=batch)


def raw(rewards: Any, groups: Any = None, group_size: int | None = None) -> Any:
    """``A_i = r_i`` (NaN -> 0.0): the rule reward itself, unnormalized, whatever its group."""
    if _is_torch(rewards):
        x = _torch_prepare(rewards)
        if groups is not None or group_size is not None:
            _torch_bins(x, groups, group_size)  # validate, ignore
        elif bool(x.isinf().any()):
            _torch_raise_inf(x)
        return x.nan_to_num(nan=0.0).to(rewards.dtype if rewards.is_floating_point() else x.dtype)
    r = _validate_rewards(rewards)
    if groups is not None or group_size is not None:
        _bins(r.shape[0], groups, group_size)  # validate, ignore
    return np.where(np.isnan(r), 0.0, r).astype(r.dtype, copy=False)


def grpo(rewards: Any, groups: Any = None, group_size: int | None = None, ddof: int = 0,
         eps: float = 1e-6) -> Any:
    """``A_i = (r_i - mean_g(r)) / (std_g(r) + eps)`` (DeepSeekMath / DeepSeek-R1 GRPO).

    ``ddof=0``: population std (the seed's figure); ``ddof=1``: Bessel-corrected (TRL, verl).
    With ``ddof=0``, ``|A_i| <= sqrt(n_g - 1)``.
    """
    ddof, eps = _check_ddof(ddof), _check_eps(eps)
    return _affine(rewards, groups, group_size, lambda g: 1.0 / (g.std(ddof) + eps))


def dr_grpo(rewards: Any, groups: Any = None, group_size: int | None = None) -> Any:
    """``A_i = r_i - mean_g(r)`` (Dr. GRPO: group mean baseline, no std division)."""
    return _affine(rewards, groups, group_size, lambda g: 1.0)


def rloo(rewards: Any, groups: Any = None, group_size: int | None = None) -> Any:
    """``A_i = r_i - mean_{j != i, j in g}(r_j) = n/(n-1) * (r_i - mean_g(r))`` (leave-one-out)."""
    return _affine(rewards, groups, group_size, lambda g: g.count / (g.count - 1).clip(min=1))


def batch_std(rewards: Any, groups: Any = None, group_size: int | None = None, ddof: int = 0,
              eps: float = 1e-6) -> Any:
    """``A_i = (r_i - mean_g(r)) / (std_batch(r) + eps)`` (REINFORCE++-baseline, "Lite PPO").

    The mean is the group's; the std is over every valid reward of the batch.
    """
    ddof, eps = _check_ddof(ddof), _check_eps(eps)
    return _affine(rewards, groups, group_size, lambda g: 1.0 / (g.batch_std(ddof) + eps), batch=True)


def rank(rewards: Any, groups: Any = None, group_size: int | None = None) -> Any:
    """``A_i = (rank_g(r_i) - (n_g - 1)/2) / ((n_g - 1)/2)`` in ``[-1, 1]``.

    ``rank_g`` is the 0-based rank within the group's valid rewards, ties sharing their average
    rank; only the order of the rewards matters, not the spacing of the tiers.
    """
    if _is_torch(rewards):
        return _rank_torch(rewards, groups, group_size)
    r = _as_rewards(rewards)
    return _rank_np(r, _bins(r.shape[0], groups, group_size))


ESTIMATORS: dict[str, Callable[..., Any]] = {
    "raw": raw,
    "grpo": grpo,
    "dr_grpo": dr_grpo,
    "rloo": rloo,
    "batch_std": batch_std,
    "rank": rank,
}


def compute(
    name: str,
    rewards: Any,
    groups: Any = None,
    group_size: int | None = None,
    **options: Any,
) -> Any:
    """Compute advantages with the estimator registered as ``name`` (see ``ESTIMATORS``).

    ``name`` and ``options`` are checked by :func:`check_estimator` first.
    """
    options = check_estimator(name, **options)
    return ESTIMATORS[name](rewards, groups=groups, group_size=group_size, **options)


# The checks of each estimator option's value, by option name: value -> normalized value.
_OPTION_CHECKS: dict[str, Callable[..., Any]] = {"ddof": _check_ddof, "eps": _check_eps}


def check_options(**options: Any) -> dict[str, Any]:
    """Check the values of estimator options by their names (``ddof``: 0 or 1; ``eps``: a finite
    number >= 0), whatever estimator they are for; return them normalized (``ddof`` int, ``eps``
    float). An option name no estimator takes raises too. For callers that use ``ddof``/``eps``
    themselves (the smoothing study); :func:`check_estimator` also checks which options the
    named estimator takes."""
    out = {}
    for key, value in options.items():
        if key not in _OPTION_CHECKS:
            raise ValueError(_invalid("estimator_options", f"option names from {sorted(_OPTION_CHECKS)}",
                                      key, "unknown option"))
        out[key] = _OPTION_CHECKS[key](value)
    return out


def check_estimator(name: Any, field: str = "estimator", /, **options: Any) -> dict[str, Any]:
    """Check an estimator name and its options; return the options normalized.

    The one check of "is this estimator name or option valid?" (scikit-learn's ``check_*``
    way): :func:`compute`, the trainer's config, the experiment, the smoothing study and the
    TRL/verl adapters all call it, so every caller words a bad value the same way::

        FIELD: expected WHAT, got VALUE

    ``field`` (positional) names the name's field in the caller's terms (``"estimator"``; an
    experiment passes ``"estimators"``); options are reported as ``<field>_options`` and
    ``<field>_options['ddof']`` (``estimator_options`` is the trainer config's field). Raises
    ValueError; returns e.g. ``{"ddof": 1, "eps": 0.0001}`` for
    ``check_estimator("grpo", ddof=1, eps=1e-4)``.
    """
    if not isinstance(name, str) or name not in ESTIMATORS:
        raise ValueError(_invalid(field, f"one of {sorted(ESTIMATORS)}", name, "unknown name"))
    allowed = estimator_options(name)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        takes = f"a subset of {list(allowed)}" if allowed else "none"
        raise ValueError(_invalid(f"{field}_options", f"{takes} for {name!r}", unknown,
                                  "unknown option" + "s" * (len(unknown) > 1)))
    return {k: _OPTION_CHECKS[k](v, f"{field}_options[{k!r}]") for k, v in options.items()}


@functools.lru_cache(maxsize=None)
def estimator_options(name: str) -> tuple[str, ...]:
    """The keyword options estimator ``name`` takes beyond the rewards and grouping (e.g.
    ``("ddof", "eps")`` for grpo)."""
    import inspect

    params = inspect.signature(ESTIMATORS[name]).parameters
    return tuple(p for p in params if p not in ("rewards", "groups", "group_size"))
