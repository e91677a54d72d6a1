"""Join the sampled completions with the hand labels into ``../real_completions.jsonl``.

Inputs beside this file: ``samples.jsonl`` (from ``sample_smollm2.py`` and ``sample_tiny.py``)
and ``labels.tsv``, one line per row: ``row<TAB>propositions that hold (comma-separated, or
-)<TAB>correct (1/0)<TAB>rank_class``. ``python build.py`` writes the file; ``--check`` verifies
it is up to date.
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROPS = ("shows_reasoning", "single_answer", "restates_question", "generic_filler", "hedges",
         "repeats_itself", "off_topic", "refuses")
CLASSES = ("ideal", "terse", "padded", "wrong", "degenerate", "bad_format")


def build() -> str:
    samples = [json.loads(x) for x in (HERE / "samples.jsonl").read_text().splitlines() if x.strip()]
    labels = {}
    for n, line in enumerate((HERE / "labels.tsv").read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        row, props, correct, rank = line.split("\t")
        held = set() if props == "-" else set(props.split(","))
        assert held <= set(PROPS), f"labels.tsv line {n}: unknown propositions {held - set(PROPS)}"
        assert rank in CLASSES and correct in ("0", "1"), f"labels.tsv line {n}: {line!r}"
        labels[int(row)] = (held, correct == "1", rank)
    assert sorted(labels) == list(range(len(samples))), "labels.tsv: expected one line per sample row"
    out = []
    for i, s in enumerate(samples):
        held, correct, rank = labels[i]
        out.append(json.dumps({**s, **{p: p in held for p in PROPS}, "correct": correct,
                               "rank_class": rank}, ensure_ascii=False))
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    target = HERE.parent / "real_completions.jsonl"
    text = build()
    if "--check" in sys.argv:
        sys.exit(0 if target.read_text() == text else "real_completions.jsonl is out of date: run build.py")
    target.write_text(text)
    print(f"wrote {target} ({text.count(chr(10))} rows)")
