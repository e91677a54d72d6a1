"""Plain data -> a validated ``RuleSetSpec``: ``extends: PRESET`` resolution, merging, and errors
that name the source (file), the key path, the value and what was allowed, e.g.::

    rules.yaml: invalid rule set
      tiers[0].reward: Input should be a valid number (got 'high')
      shaping[0].cache: cache (5000) must be at most max_length (4096) (got {...})

Both ``loading`` (files, presets -> ``RuleSet``) and ``ruleset`` (``RuleSet(dict)``) validate
through this module; it imports neither of them.
"""

from __future__ import annotations

import copy
import reprlib
from pathlib import Path
from typing import Any, Mapping

from pydantic import ValidationError

from rewardsmith.rules.presets import PRESETS, preset_spec
from rewardsmith.rules.spec import (
    AnswerSpec,
    CheckTermSpec,
    FormatSpec,
    LengthSpec,
    OverlongSpec,
    PolicySpec,
    RepetitionSpec,
    RuleSetSpec,
    SoftOverlongSpec,
    TagCountSpec,
    TierSpec,
)

__all__ = ["validate_spec", "merge_specs"]

_TERMS = {
    "soft_overlong": SoftOverlongSpec,
    "overlong": OverlongSpec,
    "length": LengthSpec,
    "repetition": RepetitionSpec,
    "tag_count": TagCountSpec,
    "check": CheckTermSpec,
}
_SECTIONS = {"format": FormatSpec, "answer": AnswerSpec, "policy": PolicySpec}


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    # pydantic puts the discriminator's value in the path of a tagged union member: drop it
    if len(loc) >= 3 and loc[0] == "shaping" and isinstance(loc[1], int) and loc[2] in _TERMS:
        return loc[:2] + loc[3:]
    return loc


def _allowed_keys(loc: tuple[Any, ...], data: Any) -> list[str] | None:
    parent = loc[:-1]
    model: Any = None
    if not parent:
        model = RuleSetSpec
    elif len(parent) == 1 and parent[0] in _SECTIONS:
        model = _SECTIONS[parent[0]]
    elif len(parent) == 2 and parent[0] == "tiers":
        model = TierSpec
    elif len(parent) == 2 and parent[0] == "shaping":
        try:
            model = _TERMS[data["shaping"][parent[1]]["kind"]]
        except (KeyError, IndexError, TypeError):
            return None
    if model is None:
        return None
    keys = list(model.model_fields)
    return keys + (["extends"] if model is RuleSetSpec else [])


def _describe(exc: ValidationError, data: Any, source: str) -> str:
    lines = []
    errors = exc.errors(include_url=False)
    for err in errors:
        loc = _clean_loc(tuple(err["loc"]))
        if err["type"] == "too_short" and any(
            len(e["loc"]) > len(err["loc"]) and tuple(e["loc"][: len(err["loc"])]) == tuple(err["loc"])
            for e in errors
        ):
            continue  # "at least 1 item" only because its items failed: those errors say why
        if loc and loc[-1] == "[key]":
            loc = loc[:-1]
            err = {**err, "msg": "unknown key; " + err["msg"][0].lower() + err["msg"][1:]}
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(loc, data)
            msg = "unknown key" + (f"; allowed keys: {', '.join(allowed)}" if allowed else "")
        got = err.get("input")
        got_s = reprlib.repr(got)  # bounded: never the whole of a huge value
        if len(got_s) > 120:
            got_s = got_s[:117] + "..."
        lines.append(f"  {_path(loc)}: {msg} (got {got_s})")
    return f"{source}: invalid rule set\n" + "\n".join(lines)


def validate_spec(data: Any, source: str = "rules") -> RuleSetSpec:
    """Validate plain data as a ``RuleSetSpec``; ValueError naming ``source``, key path and value."""
    if isinstance(data, RuleSetSpec):
        return data
    if not isinstance(data, Mapping):
        raise ValueError(f"{source}: a rule set must be a mapping of keys, got {type(data).__name__}")
    data = _resolve_extends(dict(data), source)
    try:
        return RuleSetSpec.model_validate(data)
    except ValidationError as exc:
        raise ValueError(_describe(exc, data, source)) from None


def merge_specs(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` on top: mappings merge key by key, everything else replaces."""
    out = copy.deepcopy(dict(base))
    for k, v in override.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge_specs(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _resolve_extends(data: dict[str, Any], source: str) -> dict[str, Any]:
    if "extends" not in data:
        return data
    parent = data.pop("extends")
    if not isinstance(parent, str) or parent not in PRESETS:
        raise ValueError(
            f"{source}: invalid rule set\n  extends: unknown preset (got {parent!r}); "
            f"expected one of {sorted(PRESETS)}"
        )
    base = preset_spec(parent)
    if isinstance(base, RuleSetSpec):
        base = base.model_dump(mode="json")
    elif not isinstance(base, Mapping):  # a RuleSet (a registered preset may be one)
        base = base.to_dict()
    merged = merge_specs(base, data)
    if "name" not in data:
        merged["name"] = f"{parent}+{Path(source).stem}" if source != "rules" else f"{parent}+custom"
    return merged
