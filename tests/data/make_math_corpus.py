"""Build tests/data/math_corpus.jsonl: labeled (pred, gold, equal, category) pairs.

Deterministic (``random.Random(0)``); labels are true by construction: an "equal" pair is two
renderings of the same exact value, an "unequal" pair renders two different values. The
generated part covers every form the verifier claims; the hand-written part adds the forms a
generator renders badly (equations, expressions, functions), Math-Verify's known false positives
and negatives, and hostile inputs (refused or failing fast; all labeled unequal).

    python tests/data/make_math_corpus.py            # rewrites the corpus next to this file
"""

from __future__ import annotations

import json
import random
from fractions import Fraction
from pathlib import Path

OUT = Path(__file__).with_name("math_corpus.jsonl")


def frac_forms(q: Fraction, rng: random.Random) -> list[str]:
    """Renderings of the rational q (all equal to q)."""
    a, b = q.numerator, q.denominator
    sign = "-" if a < 0 else ""
    a = abs(a)
    if b == 1:
        forms = [f"{sign}{a}", f"{sign}{a}.0", f"${sign}{a}$", f"{sign}\\frac{{{a * 2}}}{{2}}"]
        if a >= 1000:
            forms.append(f"{sign}{a:,}")
            forms.append(sign + f"{a:,}".replace(",", "{,}"))
        return forms
    k = rng.randint(2, 5)
    forms = [
        f"{sign}{a}/{b}",
        f"{sign}\\frac{{{a}}}{{{b}}}",
        f"{sign}\\dfrac{{{a}}}{{{b}}}",
        f"{sign}\\tfrac{{{a}}}{{{b}}}",
        f"{sign}\\frac{{{a * k}}}{{{b * k}}}",
        f"\\frac{{{sign}{a}}}{{{b}}}",
        f"${sign}\\frac{{{a}}}{{{b}}}$",
        f"\\left({sign}\\frac{{{a}}}{{{b}}}\\right)",
    ]
    d = b
    for p in (2, 5):
        while d % p == 0:
            d //= p
    if d == 1:  # terminating decimal
        s = str(float(Fraction(a, b)))
        forms.append(sign + s)
    return forms


def generated(rng: random.Random) -> list[dict]:
    rows: list[dict] = []

    def add(pred, gold, equal, cat):
        rows.append({"pred": pred, "gold": gold, "equal": equal, "category": cat})

    # integers and fractions: equal renderings, and near misses
    for _ in range(40):
        q = Fraction(rng.randint(-50, 200), rng.choice([1, 1, 2, 3, 4, 5, 6, 8, 12, 25]))
        forms = frac_forms(q, rng)
        g, p = rng.sample(forms, 2) if len(forms) > 1 else (forms[0], forms[0])
        cat = "integer" if q.denominator == 1 else "fraction"
        add(p, g, True, cat)
        wrong = rng.choice([q + 1, q - Fraction(1, q.denominator * 2 or 1), -q if q else q + 2, 1 / q if q not in (0, 1, -1) else q + 3])
        if wrong != q:
            add(rng.choice(frac_forms(wrong, rng)), g, False, cat)
    # big integers with thousands separators
    for _ in range(10):
        n = rng.randint(1_000, 9_999_999)
        add(f"{n:,}", str(n), True, "thousands")
        add(str(n), f"{n:,}".replace(",", "{,}"), True, "thousands")
        add(f"{n + rng.choice([1, 10, 1000]):,}", str(n), False, "thousands")
    # decimals
    for _ in range(15):
        q = Fraction(rng.randint(1, 999), rng.choice([2, 4, 5, 8, 10, 20, 100]))
        dec = str(float(q))
        add(dec, f"\\frac{{{q.numerator}}}{{{q.denominator}}}", True, "decimal")
        add(dec + "0", dec, True, "decimal")
        add(str(float(q + Fraction(1, 100))), dec, False, "decimal")
    # percents
    for _ in range(10):
        n = rng.randint(1, 99)
        add(f"{n}\\%", str(n), True, "percent")
        add(f"{n}%", str(Fraction(n, 100).__float__()), True, "percent")
        add(f"{n}\\%", str(n + 1), False, "percent")
    # radicals: c sqrt(s^2 f) == c s sqrt(f)
    for _ in range(15):
        f = rng.choice([2, 3, 5, 6, 7, 10, 11])
        s = rng.randint(2, 5)
        c = rng.randint(1, 4)
        add(f"{c}\\sqrt{{{s * s * f}}}", f"{c * s}\\sqrt{{{f}}}", True, "radical")
        add(f"\\frac{{{c}}}{{\\sqrt{{{f}}}}}", f"\\frac{{{c}\\sqrt{{{f}}}}}{{{f}}}", True, "radical")
        add(f"{c}\\sqrt{{{f}}}", f"{c}\\sqrt{{{f + 1 if f + 1 not in (4, 9) else f + 2}}}", False, "radical")
    # pi multiples
    for _ in range(10):
        q = Fraction(rng.randint(1, 12), rng.choice([1, 2, 3, 4, 6]))
        a, b = q.numerator, q.denominator
        gold = f"{a}\\pi" if b == 1 else f"\\frac{{{a}\\pi}}{{{b}}}"
        add(f"\\frac{{{a}}}{{{b}}}\\pi", gold, True, "pi")
        add(f"{a}\\pi/{b}", gold, True, "pi")
        add(f"\\frac{{{a + 1}}}{{{b}}}\\pi", gold, False, "pi")
    # intervals: brackets matter
    for _ in range(12):
        lo, hi = sorted(rng.sample(range(-20, 20), 2))
        o, c = rng.choice("(["), rng.choice(")]")
        gold = f"{o}{lo},{hi}{c}"
        add(f"\\left{o}{lo}, {hi}\\right{c}", gold, True, "interval")
        other = ("[" if o == "(" else "(") + f"{lo},{hi}" + c
        add(other, gold, False, "interval")
        add(f"(-\\infty, {hi}{c}", f"(-\\infty,{hi}{c}", True, "interval")
        add(f"(-\\infty, {hi}{')' if c == ']' else ']'}", f"(-\\infty,{hi}{c}", False, "interval")
        add(f"{o}{lo}, \\infty)", f"{o}{lo},+\\infty)", True, "interval")
        add(f"{o}{lo}, \\infty)", f"{o}{lo + 1},\\infty)", False, "interval")
    # tuples: order matters
    for _ in range(10):
        x, y = rng.sample(range(-9, 10), 2)
        add(f"({x}, {y})", f"\\left({x},{y}\\right)", True, "tuple")
        add(f"({y}, {x})", f"({x},{y})", False, "tuple")
        q = Fraction(x, 2)
        add(f"({float(q)}, {y})", f"(\\frac{{{x}}}{{2}}, {y})", True, "tuple")
    # sets: order does not matter, never equal to a tuple
    for _ in range(10):
        xs = rng.sample(range(-9, 10), 3)
        ys = xs[:]
        rng.shuffle(ys)
        add("\\{" + ",".join(map(str, ys)) + "\\}", "\\{" + ",".join(map(str, xs)) + "\\}", True, "set")
        add(", ".join(map(str, ys)), ", ".join(map(str, xs)), True, "set")
        add("(" + ",".join(map(str, xs)) + ")", "\\{" + ",".join(map(str, xs)) + "\\}", False, "set")
        add("\\{" + ",".join(map(str, xs[:2])) + "\\}", "\\{" + ",".join(map(str, xs)) + "\\}", False, "set")
    # units and decorations
    for _ in range(10):
        n = rng.randint(1, 360)
        add(f"{n}^\\circ", str(n), True, "units")
        add(f"{n}\\text{{ cm}}", str(n), True, "units")
        add(f"\\${n}", str(n), True, "units")
        add(f"{n + 1}\\text{{ cm}}", str(n), False, "units")
    return rows


HAND = [
    # equations and expressions (symbolic path)
    ("y=2x+1", "y=1+2x", True, "equation"),
    ("2y=4x+2", "y=2x+1", True, "equation"),
    ("y=2x+1", "y=2x-1", False, "equation"),
    ("x^2+y^2=1", "x+y=1", False, "equation"),
    ("x=3", "3", True, "equation"),
    ("3", "x=3", True, "equation"),
    ("x=3", "4", False, "equation"),
    ("a=1, b=2", "b=2, a=1", True, "equation"),
    ("y-1=2x", "y=2x+1", True, "equation"),
    ("x^2+2x+1", "(x+1)^2", True, "expression"),
    ("\\frac{x}{2}", "0.5x", True, "expression"),
    ("x^2", "2x", False, "expression"),
    ("2x+3", "3+2x", True, "expression"),
    ("\\frac{x^2-1}{x-1}", "x+1", True, "expression"),
    ("(x-1)(x+2)", "x^2+x-2", True, "expression"),
    ("(x-1)(x+2)", "x^2-x-2", False, "expression"),
    ("\\sqrt{x^2}", "x", False, "expression"),
    ("\\sin^2 x+\\cos^2 x", "1", True, "function"),
    ("\\log_2 8", "3", True, "function"),
    ("\\sin(\\pi/6)", "\\frac{1}{2}", True, "function"),
    ("\\sqrt[3]{8}", "2", True, "function"),
    ("\\sqrt[3]{9}", "2", False, "function"),
    ("e^{\\ln 2}", "2", True, "function"),
    ("\\cos(0)", "0", False, "function"),
    ("2^{10}", "1024", True, "integer"),
    ("10^{-3}", "0.001", True, "decimal"),
    ("3\\cdot 10^{5}", "300000", True, "integer"),
    ("3\\times10^5", "30000", False, "integer"),
    ("2\\frac{1}{2}", "\\frac{5}{2}", True, "fraction"),
    ("-\\frac{3}{4}", "\\frac{-3}{4}", True, "fraction"),
    ("\\frac{3}{-4}", "-0.75", True, "fraction"),
    ("\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}\\sqrt{3}", True, "radical"),
    ("\\frac{1}{\\sqrt{2}}", "\\frac{\\sqrt{2}}{2}", True, "radical"),
    ("\\frac{1}{1+\\sqrt{2}}", "\\sqrt{2}-1", True, "radical"),
    ("\\sqrt{2}", "1.414", False, "radical"),
    ("3.14", "\\pi", False, "pi"),
    ("(-\\infty,1)\\cup(2,\\infty)", "(2,\\infty)\\cup(-\\infty,1)", True, "interval"),
    ("(-\\infty,1)\\cup(2,\\infty)", "(-\\infty,1]\\cup(2,\\infty)", False, "interval"),
    ("[1,2)", "(1,2)", False, "interval"),
    ("\\{1,2\\}", "1, 2", True, "set"),
    ("2 or 3", "2", False, "set"),
    ("2, 3", "2", False, "set"),
    ("12 dollars", "12", True, "units"),
    ("5\\text{ cm}^2", "5", True, "units"),
    ("\\text{(B)}", "B", True, "text"),
    ("\\$1{,}234.50", "1234.5", True, "thousands"),
    ("\u22125", "-5", True, "integer"),
    ("$\\boxed{7}$", "7", True, "integer"),
    # mixed realistic answers (labels checked by hand)
    ('x=\\frac{1}{2}', '\\frac12', True, "mixed"),
    ('\\frac{1}{2}x', '\\frac{x}{2}', True, "mixed"),
    ('\\text{Monday}', 'Monday', True, "mixed"),
    ('(3, -\\frac{1}{2})', '\\left(3,-\\dfrac12\\right)', True, "mixed"),
    ('2\\sqrt{2}+1', '1+\\sqrt{8}', True, "mixed"),
    ('\\sqrt{2}/2', '\\frac{\\sqrt2}{2}', True, "mixed"),
    ('-\\frac{\\pi}{4}', '-\\pi/4', True, "mixed"),
    ('\\frac{5\\sqrt{3}}{3}', '\\frac{5}{\\sqrt{3}}', True, "mixed"),
    ('\\$5.00', '5', True, "mixed"),
    ('5\\text{ inches}', '5', True, "mixed"),
    ('x^2 - 5x + 6', '(x-2)(x-3)', True, "mixed"),
    ('x > 2', '2 < x', True, "mixed"),
    ('x > 2', 'x < 2', False, "mixed"),
    ('x \\ge 2', 'x > 2', False, "mixed"),
    ('3/2', '1\\frac{1}{2}', True, "mixed"),
    ('2^{-1}', '0.5', True, "mixed"),
    ('\\sqrt{2}^2', '2', True, "mixed"),
    ('a+b', 'b+a', True, "mixed"),
    ('f(x) = 2x', '2x', True, "mixed"),
    ('200\\text{ m}^2', '200', True, "mixed"),
    ('\\pi r^2', 'r^2\\pi', True, "mixed"),
    ('3\\sqrt{3}/2', '\\frac{3\\sqrt3}{2}', True, "mixed"),
    ('6 - 2\\sqrt{5}', '(\\sqrt5 - 1)^2', True, "mixed"),
    ('\\frac{2}{1-\\sqrt{3}}', '-1-\\sqrt3', True, "mixed"),
    ('0', '-0', True, "mixed"),
    ('\\infty', '+\\infty', True, "mixed"),
    ('[0, \\infty)', '[0,\\infty)', True, "mixed"),
    ('\\emptyset', '\\{\\}', True, "mixed"),
    ('1{,}000{,}000', '10^6', True, "mixed"),
    ('\\sqrt[3]{2}', '2^{1/3}', True, "mixed"),
    ('x = -2, 3', '-2, 3', True, "mixed"),
    ('x=-2, x=3', '3,-2', True, "mixed"),
    ('-2', '2', False, "mixed"),
    ('\\frac{3}{4}', '\\frac{4}{3}', False, "mixed"),
    ('x^2', 'x^3', False, "mixed"),
    ('\\sqrt{3}', '3', False, "mixed"),
    ('\\frac{\\sqrt{3}}{3}', '\\frac{1}{\\sqrt{3}}', True, "mixed"),
    ('1,2,3', '(1,2,3)', False, "mixed"),
    ('(1,2,3)', '(1,2,3)', True, "mixed"),
    ('2\\pi', '6.28', False, "mixed"),
    ('30', '30^{\\circ}', True, "mixed"),
    ('\\frac{1}{6}', '0.1\\overline{6}', True, "mixed"),
    ('7', '\\text{7 days}', True, "mixed"),
    ('x+y=5', 'y=5-x', True, "mixed"),
    ('5', '5.', True, "mixed"),
    ('\\dfrac{-1}{2}', '-\\dfrac{1}{2}', True, "mixed"),
    ('m=\\frac{3}{2}', '\\frac32', True, "mixed"),
    ('\\frac{9}{2}', '4.5', True, "mixed"),
    ('1/3', '0.33', False, "mixed"),
    ('\\{1, 2, 2\\}', '\\{1,2\\}', True, "mixed"),
    ('(1,1)', '(1,1)', True, "mixed"),
    ('\\binom{5}{2}', '10', True, "mixed"),
    ('5!', '120', True, "mixed"),
    ('\\frac{10!}{2}', '1814400', True, "mixed"),
    ('2,3', '3, 2', True, "mixed"),
    ('\\text{A}', 'A', True, "mixed"),
    ('(A)', 'A', True, "mixed"),
    ('B', 'A', False, "mixed"),
    ('y=x', 'x=y', True, "mixed"),
    ('x^2+1=0', '-x^2-1=0', True, "mixed"),
    ('1+i', '1+i', True, "mixed"),
    ('i', '-i', False, "mixed"),
    ("\\sin 30^\\circ", "\\frac12", True, "function"),
    ("\\cos 60^{\\circ}", "0.5", True, "function"),
    ("\\frac{\\sqrt{6}-\\sqrt{2}}{4}", "\\sin 15^\\circ", True, "function"),
    ("\\tan 45^\\circ", "2", False, "function"),
    # known hard cases rewardsmith gets wrong (listed in tests/verify/test_math_corpus.py)
    ("\\frac{1}{\\sqrt{n}}", "\\sqrt{1/n}", True, "known_hard"),
    ("\\sqrt{-4}", "2i", True, "function"),
    ("e^{i\\pi}", "-1", True, "function"),
    ("i^2", "1", False, "function"),
    ("(1+i)^2", "2i", True, "function"),
    ("x<-2 \\text{ or } x>3", "(-\\infty,-2)\\cup(3,\\infty)", True, "known_hard"),
    # Math-Verify false positives (it says equal; they are not)
    ("(1,2)", "\\{1,2\\}", False, "mv_false_positive"),
    ("\\{1,2\\}", "(1,2)", False, "mv_false_positive"),
    ("\\frac{1}{2004!}", "\\frac{1}{2006!}", False, "mv_false_positive"),
    ("\\frac{1}{10^{20}}", "\\frac{1}{10^{21}}", False, "mv_false_positive"),
    ("x^2+y^2=0", "x^4+y^4=0", False, "mv_false_positive"),
    ("x-y=0", "x+y=0", False, "mv_false_positive"),
    ("(1,2)", "[1,2]", False, "mv_false_positive"),
    ("\\frac{1}{2^{99}}", "\\frac{1}{2^{98}}", False, "mv_false_positive"),
    ("1 + \\frac{1}{\\mathrm{e}}", "1 - \\frac{1}{\\mathrm{e}}", False, "mv_false_positive"),
    ("\\frac{1}{3 \\cdot 2^{2006}}", "\\frac{2^{2005}+1}{3 \\cdot 2^{2006}}", False, "mv_false_positive"),
    ("3*x-1*y+13=0", "3x + 4y + 14=0", False, "mv_false_positive"),
    ("n=1, 2, 3", "n=2, 3, 4", False, "mv_false_positive"),
    ("D = (0, 1.5)", "D = (0, 1)", False, "mv_false_positive"),
    ("21, 36, and 82", "19, 46, \\text{ and } 82", False, "mv_false_positive"),
    ("2021", "\\pm 2021", False, "mv_false_positive"),
    ("4\\sqrt{2}", "4", False, "mv_false_positive"),
    ("\\frac{x^2}{16}+\\frac{y^2}{12}=1", "\\frac{x^2}{4}+\\frac{y^2}{3}=1", False, "mv_false_positive"),
    # Math-Verify false negatives (it says unequal; they are equal)
    ("y = -1/2*x + 3/4", "2x+4y-3=0", True, "mv_false_negative"),
    ("\\frac{x^2}{16}+\\frac{y^2}{12}=1", "3x^2+4y^2=48", True, "mv_false_negative"),
    ("x \\in [1,2]", "[1,2]", True, "mv_false_negative"),
    ("1 - \\frac{1}{e}", "\\frac{e-1}{e}", True, "mv_false_negative"),
    ("12 dollars", "12", True, "mv_false_negative"),
    ("7 apples", "7", True, "mv_false_negative"),
    ("45 \\text{ degrees}", "45", True, "mv_false_negative"),
    # hostile: refused or failing fast, never computed, never equal
    ("9^{9^{9^9}}", "5", False, "hostile"),
    ("(10^{100})!", "1", False, "hostile"),
    ("\\dfrac{5^{(5^{(5^{5^5})}-4)}-5}{16}", "3", False, "hostile"),
    ("(" * 10_000 + "1" + ")" * 10_000, "1", False, "hostile"),
    ("1\x00\x07\x1b[31m", "2", False, "hostile"),
    ("\udcff\udcfe", "1", False, "hostile"),
    ("{" * 200 + "}" * 200, "1", False, "hostile"),
    ("9" * 5000, "9", False, "hostile"),
]


def build() -> list[dict]:
    rng = random.Random(0)
    rows = generated(rng)
    rows += [{"pred": p, "gold": g, "equal": e, "category": c} for p, g, e, c in HAND]
    seen, out = set(), []
    for r in rows:
        key = (r["pred"], r["gold"])
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def main() -> None:
    rows = build()
    text = "".join(json.dumps(r) + "\n" for r in rows)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {len(rows)} pairs to {OUT}")


if __name__ == "__main__":
    main()
