"""The declarative form of a rule set: pydantic models, validated on load (Python dict or YAML).

A rule set is::

    name: seed-tiered
    format:  {kind: tags, tags: [think, answer], prefilled_think: false}
    answer:  {extract: answer_tag, compare: math, timeout: 5.0, form: any}   # form: value = no 17+25
    tiers:                                  # checked in order, first match wins
      - {when: {format: true, correct: true}, reward: 1.0, label: correct}
      - {when: {format: true},                reward: -0.5, label: wrong_answer}
      - {when: {},                            reward: -2.0, label: bad_format}   # catch-all, last
    shaping:                                # additive terms, reward = tier + sum(weight * value)
      - {kind: soft_overlong, max_length: 4096, cache: 512}
    policy:  {on_timeout: nan, on_error: nan}   # verifier timeout / error: label + this reward

Conditions a tier may test in ``when`` (each ``true`` or ``false``): ``format`` (the format check
passes), ``answer`` (an answer was extracted and is not blank), ``correct`` (the answer check
passes). They are computed lazily in the order written, so a completion that fails the format
never reaches the (slower) answer check. When ``correct`` cannot be decided (verifier timeout or
error) the completion gets label ``timeout`` / ``error`` and the policy's reward (NaN = unscored by
default: the advantage estimators leave NaN out of group statistics).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "CONDITIONS",
    "EXTRACT_MODES",
    "RESERVED_LABELS",
    "FormatSpec",
    "AnswerSpec",
    "TierSpec",
    "PolicySpec",
    "SoftOverlongSpec",
    "OverlongSpec",
    "LengthSpec",
    "RepetitionSpec",
    "TagCountSpec",
    "CheckTermSpec",
    "ShapingSpec",
    "RuleSetSpec",
]

CONDITIONS = ("format", "answer", "correct")
EXTRACT_MODES = ("answer_tag", "boxed", "the_answer_is", "last_number", "none")
RESERVED_LABELS = ("timeout", "error")
_LABEL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FormatSpec(_Model):
    """How the completion's shape is checked (condition ``format``)."""

    kind: Literal["tags", "regex", "json", "none"] = "tags"
    """tags: ``<think>...</think><answer>...</answer>``; regex: ``pattern``; json: parsable JSON;
    none: always passes."""
    tags: tuple[str, ...] = ("think", "answer")
    """Tag names, in the order their blocks must appear (kind ``tags``)."""
    prefilled_think: bool = False
    """The chat template already emitted the first opening tag: the completion starts inside it."""
    nonempty: tuple[str, ...] | None = None
    """Blocks that must hold non-blank text (default: the last tag, ``answer``)."""
    pattern: str | None = None
    """Regular expression (kind ``regex``), run with a timeout in the ``regex`` module."""
    fullmatch: bool = True
    """kind ``regex``: the pattern must match the whole completion (else: anywhere)."""
    require: Literal["object", "array"] | None = None
    """kind ``json``: demand a JSON object or array."""

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        from rewardsmith.verify.format import _validate_tags

        return _validate_tags(v)

    @model_validator(mode="after")
    def _pattern(self) -> "FormatSpec":
        if self.kind == "regex":
            if not self.pattern:
                raise ValueError("kind 'regex' needs a 'pattern'")
            import regex

            try:
                regex.compile(self.pattern)
            except regex.error as exc:
                raise ValueError(f"pattern {self.pattern!r} is not a valid regular expression: {exc}") from None
        if self.nonempty is not None and self.kind == "tags":
            extra = [t for t in self.nonempty if t not in self.tags]
            if extra:
                raise ValueError(f"nonempty names {extra} which are not among tags {list(self.tags)}")
        return self


class AnswerSpec(_Model):
    """How the answer is pulled out of the completion and compared with the gold answer."""

    extract: Literal["answer_tag", "boxed", "the_answer_is", "last_number", "none"] = "answer_tag"
    """Extraction mode (``rewardsmith.verify.extract_answer``); ``none`` = the whole completion.
    Never falls back to another mode: no match means no answer."""
    compare: str = "math"
    """Answer check: math, choice, string, exact, or a registered one (``register_check``)."""
    normalize: tuple[str, ...] | Literal["all"] | None = None
    """compare ``string``: normalizations (case, whitespace, punctuation, articles, unicode)."""
    letters: str = "ABCDEFGHIJ"
    """compare ``choice``: the option letters."""
    timeout: float = Field(5.0, gt=0, allow_inf_nan=False)
    """Seconds the verifier may spend on one answer (math: the symbolic path's hard timeout)."""
    form: Literal["any", "value"] = "any"
    """compare ``math``: ``any`` (default) accepts any expression equal to the gold answer, so
    ``17+25`` is correct for 42; ``value`` demands a value when the gold answer is one (a number,
    fraction, radical, or a tuple/set/interval of them, in simplest form: a fraction in lowest
    terms, a square-free radicand, no arithmetic left: ``rewardsmith.verify.is_value``), so an
    echoed computation (``17+25``, ``\\frac{84}{2}``, ``\\sqrt{1764}``) is a wrong answer with label
    ``unevaluated``."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Extra options for a registered answer check."""

    @field_validator("compare")
    @classmethod
    def _compare(cls, v: str) -> str:
        from rewardsmith.rules.checks import CHECKS

        if v not in CHECKS:
            raise ValueError(f"unknown answer check {v!r}; expected one of {sorted(CHECKS)}")
        return v

    @field_validator("normalize")
    @classmethod
    def _normalize(cls, v: Any) -> Any:
        from rewardsmith.verify.text import NORMALIZATIONS

        if isinstance(v, tuple):
            bad = [o for o in v if o not in NORMALIZATIONS]
            if bad:
                raise ValueError(
                    f"unknown normalization(s) {bad}; expected a subset of {list(NORMALIZATIONS)} or 'all'"
                )
        return v


class TierSpec(_Model):
    """One tier: when its conditions hold (first match wins), the completion gets this reward/label."""

    label: str
    """Name counted in reports (``correct``, ``wrong_answer``, ...)."""
    reward: float = Field(allow_inf_nan=False)
    """Reward of the tier."""
    when: dict[Literal["format", "answer", "correct"], bool] = Field(default_factory=dict)
    """Conditions, all of which must hold; ``{}`` matches everything (the last tier must)."""
    scale_by: Literal["correct", "format"] | None = None
    """Multiply ``reward`` by that check's score in [0, 1] (e.g. the fraction of tests passed)."""

    @field_validator("label")
    @classmethod
    def _label(cls, v: str) -> str:
        if not _LABEL_RE.match(v):
            raise ValueError(f"label {v!r} must start with a letter and use letters, digits, _ or -")
        if v in RESERVED_LABELS:
            raise ValueError(f"label {v!r} is reserved for the verification policy")
        return v


def _nan_or_float(v: Any) -> Any:
    if v is None or (isinstance(v, str) and v.strip().lower() == "nan"):
        return math.nan
    return v


class PolicySpec(_Model):
    """Reward for completions whose answer could not be verified (label ``timeout`` / ``error``)."""

    on_timeout: float = math.nan
    """Reward when the verifier timed out; NaN (``nan`` in YAML) = unscored."""
    on_error: float = math.nan
    """Reward when the verifier raised or its worker died; NaN = unscored."""

    @field_validator("on_timeout", "on_error", mode="before")
    @classmethod
    def _coerce(cls, v: Any) -> Any:
        return _nan_or_float(v)

    @field_validator("on_timeout", "on_error")
    @classmethod
    def _finite_or_nan(cls, v: float) -> float:
        if math.isinf(v):
            raise ValueError("must be a finite number or nan")
        return v


class _Term(_Model):
    name: str | None = None
    """Column name in ``ScoredBatch.components`` (default: the kind)."""
    weight: float = Field(1.0, allow_inf_nan=False)
    """The term adds ``weight * value``."""


class _LengthTerm(_Term):
    unit: Literal["chars", "tokens"] = "chars"
    """Length in characters, or in tokens (a ``num_tokens`` field, else the rule set's tokenizer)."""


class SoftOverlongSpec(_LengthTerm):
    """DAPO soft overlong punishment: value 0 up to ``max_length - cache``, then falls linearly to
    -1 at ``max_length``, and -1 beyond: ``min(0, (max_length - cache - L) / cache)`` clipped at -1."""

    kind: Literal["soft_overlong"]
    max_length: int = Field(gt=0)
    cache: int = Field(gt=0)

    @model_validator(mode="after")
    def _cache(self) -> "SoftOverlongSpec":
        if self.cache > self.max_length:
            raise ValueError(f"cache ({self.cache}) must be at most max_length ({self.max_length})")
        return self


class OverlongSpec(_LengthTerm):
    """Hard overlong punishment: value -1 when ``L > max_length`` (or the row's ``truncated`` field
    is true), else 0."""

    kind: Literal["overlong"]
    max_length: int = Field(gt=0)


class LengthSpec(_LengthTerm):
    """Length penalty: value ``-min(1, max(0, L - free) / scale)``: free up to ``free``, then linear."""

    kind: Literal["length"]
    free: int = Field(0, ge=0)
    scale: int = Field(gt=0)


class RepetitionSpec(_Term):
    """n-gram repetition penalty (as open-r1): value ``-(1 - distinct n-grams / n-grams)`` over
    lower-cased whitespace words; 0 when there are fewer than ``ngram`` words."""

    kind: Literal["repetition"]
    ngram: int = Field(3, ge=1)


class TagCountSpec(_Term):
    """open-r1's tag count: fraction of the format's tags that appear exactly once, in [0, 1]."""

    kind: Literal["tag_count"]


class CheckTermSpec(_Term):
    """A check as an additive term: value = the check's score (1/0, or a fraction for partial
    checks). ``r1`` is ``accuracy`` (check correct) + ``format`` (check format), weight 1 each."""

    kind: Literal["check"]
    check: Literal["format", "answer", "correct"]


ShapingSpec = Annotated[
    Union[SoftOverlongSpec, OverlongSpec, LengthSpec, RepetitionSpec, TagCountSpec, CheckTermSpec],
    Field(discriminator="kind"),
]


class RuleSetSpec(_Model):
    """A whole rule set (see the module docstring for the YAML form)."""

    name: str = "custom"
    """Shown in reports."""
    description: str = ""
    """One line for humans."""
    format: FormatSpec = Field(default_factory=FormatSpec)
    """The format check (condition ``format``)."""
    answer: AnswerSpec = Field(default_factory=AnswerSpec)
    """Answer extraction and comparison (conditions ``answer``, ``correct``)."""
    tiers: tuple[TierSpec, ...] = Field(min_length=1)
    """Tiers in order, first match wins; the last must be a catch-all (``when: {}``)."""
    shaping: tuple[ShapingSpec, ...] = ()
    """Additive terms: reward = tier reward + sum(weight * value)."""
    policy: PolicySpec = Field(default_factory=PolicySpec)
    """Rewards for the ``timeout`` / ``error`` labels."""
    sample_timeout: float = Field(30.0, gt=0, allow_inf_nan=False)
    """Hard limit (seconds) on scoring one completion in a worker process; past it the worker is
    killed and the completion gets label ``timeout``."""

    @field_validator("tiers")
    @classmethod
    def _tiers(cls, tiers: tuple[TierSpec, ...]) -> tuple[TierSpec, ...]:
        if tiers and tiers[-1].when:
            raise ValueError(
                f"the last tier ({tiers[-1].label!r}) must match everything (when: {{}}) so "
                f"that every completion gets a label; got when={dict(tiers[-1].when)}"
            )
        for i, t in enumerate(tiers[:-1]):
            if not t.when:
                raise ValueError(
                    f"tier {i} ({t.label!r}) matches everything (when: {{}}), so the tiers after it "
                    "can never fire; only the last tier may be a catch-all"
                )
        labels = [t.label for t in tiers]
        dup = sorted({x for x in labels if labels.count(x) > 1})
        if dup:
            raise ValueError(f"tier labels must be distinct; repeated: {dup}")
        return tiers

    @field_validator("shaping")
    @classmethod
    def _shaping(cls, terms: tuple[Any, ...]) -> tuple[Any, ...]:
        names = [term_name(t) for t in terms]
        dup = sorted({x for x in names if names.count(x) > 1})
        if dup:
            raise ValueError(f"shaping term names must be distinct (set 'name'); repeated: {dup}")
        if "tier" in names:
            raise ValueError("shaping term name 'tier' is reserved for the tier reward")
        return terms


def term_name(term: Any) -> str:
    """A shaping term's column name: its ``name`` or its ``kind``."""
    return term.name or term.kind
