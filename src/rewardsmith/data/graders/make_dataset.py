"""Regenerate ``arithmetic.jsonl`` (the synthetic labeled set) next to this file.

    python src/rewardsmith/data/graders/make_dataset.py            # 240 prompts x 10, seed 0
    python src/rewardsmith/data/graders/make_dataset.py --check    # exit 1 if the file differs

``handchecked.jsonl`` is not generated: its rows were written and labeled by hand.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rewardsmith.graders.synth import generate_arithmetic
from rewardsmith.io import dumps_json, write_rows

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--prompts", type=int, default=240)
    ap.add_argument("--per-prompt", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=HERE / "arithmetic.jsonl")
    ap.add_argument("--check", action="store_true", help="compare with the file instead of writing")
    args = ap.parse_args(argv)
    rows = generate_arithmetic(args.prompts, args.per_prompt, args.seed)
    if args.check:
        expected = "".join(dumps_json(r) + "\n" for r in rows)
        same = args.out.exists() and args.out.read_text(encoding="utf-8") == expected
        print(f"{args.out}: {'up to date' if same else 'DIFFERS from the generator'}")
        return 0 if same else 1
    write_rows(args.out, rows)
    print(f"wrote {len(rows)} rows to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
