"""``load_rules(spec)``: a preset name, a YAML/JSON file or a dict -> a validated ``RuleSet``.

Validation (``validate_spec``, ``merge_specs``, the wording of errors) lives in
:mod:`rewardsmith.rules.validation`, which ``ruleset`` uses too; both are re-exported here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping

from rewardsmith.rules.presets import PRESETS, preset_spec
from rewardsmith.rules.ruleset import RuleSet
from rewardsmith.rules.spec import RuleSetSpec
from rewardsmith.rules.validation import merge_specs, validate_spec

__all__ = ["load_rules", "validate_spec", "merge_specs"]


def _load_file(path: Path) -> Any:
    import json

    import yaml

    from rewardsmith.io import refuse_yaml_aliases

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the rule file ({exc})") from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        refuse_yaml_aliases(text, path, "rule file", "write the value out, or reuse a preset with `extends`")
        return yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as exc:
        raise ValueError(f"{path}: not valid YAML/JSON: {exc}") from None
    except RecursionError:
        raise ValueError(f"{path}: not valid YAML/JSON: nested too deep") from None


def _class_of(data: Any) -> type[RuleSet]:
    """The RuleSet class to build: that of the preset it ``extends`` (e.g. the code rules' own)."""
    parent = data.get("extends") if isinstance(data, Mapping) else None
    if isinstance(parent, str) and parent in PRESETS:
        base = preset_spec(parent)
        if isinstance(base, RuleSet):
            return type(base)
    return RuleSet


def load_rules(
    spec: str | os.PathLike[str] | Mapping[str, Any] | RuleSetSpec | RuleSet,
    *,
    tokenizer: Callable[[str], Any] | None = None,
) -> RuleSet:
    """A ``RuleSet`` from a preset name (``"seed-tiered"``, ``"r1"``, ``"binary"``, and registered
    ones such as ``"code"``), a YAML/JSON file path, a dict (may hold ``extends: PRESET``), a
    ``RuleSetSpec`` or a ``RuleSet`` (returned as is unless a tokenizer is given)."""
    if isinstance(spec, RuleSet):
        return spec if tokenizer is None else type(spec)(spec.spec, tokenizer=tokenizer)
    if isinstance(spec, RuleSetSpec):
        return RuleSet(spec, tokenizer=tokenizer)
    if isinstance(spec, Mapping):
        return _class_of(spec)(validate_spec(spec, "rules"), tokenizer=tokenizer)
    if isinstance(spec, (str, os.PathLike)):
        name = os.fspath(spec)
        if isinstance(spec, str) and name in PRESETS:
            base = preset_spec(name)
            if isinstance(base, RuleSet):
                return base if tokenizer is None else type(base)(base.spec, tokenizer=tokenizer)
            return RuleSet(validate_spec(base, f"preset {name!r}"), tokenizer=tokenizer)
        path = Path(name)
        if path.is_file():
            data = _load_file(path)
            return _class_of(data)(validate_spec(data, str(path)), tokenizer=tokenizer)
        raise ValueError(
            f"rules: {name!r} is neither a preset (expected one of {sorted(PRESETS)}) nor an "
            "existing YAML/JSON file"
        )
    raise ValueError(
        f"rules: expected a preset name, a file path, a dict or a RuleSet, got {type(spec).__name__}"
    )
