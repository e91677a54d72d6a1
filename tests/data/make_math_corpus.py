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


def _dec_digits(q: Fraction, places: int, mode: str = "round") -> str:
    """q as a decimal with ``places`` digits after the point, rounded or cut off (exact arithmetic)."""
    scaled = q * 10**places
    n = round(scaled) if mode == "round" else int(scaled)
    sign = "-" if n < 0 else ""
    s = str(abs(n)).rjust(places + 1, "0")
    return f"{sign}{s[:-places]}.{s[-places:]}"


def generated_forms(rng: random.Random) -> list[dict]:
    """Issue 11: answers as real data sets write them, each equal form beside a near miss."""
    rows: list[dict] = []

    def add(pred, gold, equal, cat):
        rows.append({"pred": pred, "gold": gold, "equal": equal, "category": cat})

    labels = ["k", "n", "m", "|PQ|", "AB", "S_{ABC}", "\\angle ABC", "f(2)", "a_{10}", "V"]
    for _ in range(12):  # labeled values: the value after the label is the answer
        lab, n = rng.choice(labels), rng.randint(2, 99)
        add(f"{lab}={n}", str(n), True, "form_labeled")
        add(f"{lab} = {n + rng.choice([-1, 1, 10])}", str(n), False, "form_labeled")
    for _ in range(6):  # labeled tuples equal the bare tuple, in order
        a, b = rng.sample(range(-9, 20), 2)
        add(f"(a,b)=({a},{b})", f"({a},{b})", True, "form_labeled")
        add(f"(x, y) = ({b}, {a})", f"({a},{b})", False, "form_labeled")
    for _ in range(6):  # ratios
        p, q = rng.sample(range(1, 12), 2)
        k = rng.randint(2, 4)
        add(f"AB:CD={p * k}:{q * k}", f"{p}:{q}", True, "form_labeled")
        add(f"\\frac{{PA}}{{PB}}=\\frac{{{q}}}{{{p}}}", f"{p}:{q}", False, "form_labeled")
    for _ in range(8):  # several solutions: order free, all present, nothing extra
        xs = rng.sample(range(-9, 10), 2)
        ys = rng.sample(range(-9, 10), 2)
        gold = f"({xs[0]},{ys[0]}),({xs[1]},{ys[1]})"
        add(f"x={xs[1]},y={ys[1]};x={xs[0]},y={ys[0]}", gold, True, "form_solutions")
        add(f"x={xs[0]},y={ys[0]}", gold, False, "form_solutions")  # one of two pairs
        add(f"({xs[0]};{ys[0]}) \\text{{ or }} ({xs[1]};{ys[1]})", gold, True, "form_solutions")
        add(f"({xs[0]},{ys[0]}),({xs[1]},{ys[1]}),({ys[0]},{xs[0]})", gold, False, "form_solutions")
    for _ in range(6):  # roots joined by words and spacing commands
        r1, r2 = rng.sample(range(-9, 10), 2)
        add(f"x={r1} \\quad x={r2}", f"{r2}, {r1}", True, "form_solutions")
        add(f"{r1} \\text{{ and }} {r2 + 1}", f"{r2}, {r1}", False, "form_solutions")
    for _ in range(8):  # true chains are their value, false ones nothing
        a, b = rng.randint(2, 30), rng.randint(2, 30)
        add(f"x = {a}+{b} = {a + b}", str(a + b), True, "form_chain")
        add(f"x = {a}+{b} = {a + b + 1}", str(a + b + 1), False, "form_chain")
        q = Fraction(rng.randint(1, 20), rng.choice([3, 7, 9, 11]))
        if q.denominator == 1:
            q += Fraction(1, 3)
        approx = _dec_digits(q, 2)
        add(f"\\frac{{{q.numerator}}}{{{q.denominator}}} \\approx {approx}", f"\\frac{{{q.numerator}}}{{{q.denominator}}}", True, "form_chain")
        add(f"\\frac{{{q.numerator}}}{{{q.denominator}}} \\approx {_dec_digits(q + Fraction(1, 10), 2)}",
            f"\\frac{{{q.numerator}}}{{{q.denominator}}}", False, "form_chain")
    for _ in range(6):  # spacing commands inside numbers
        n = rng.randint(10_000, 999_999)
        add(f"{n // 1000},\\!{n % 1000:03d}", str(n), True, "form_spacing")
        add(f"{n // 1000}\\,{n % 1000:03d}", str(n + 1), False, "form_spacing")
    for _ in range(8):  # membership and compound inequalities against intervals
        lo, hi = sorted(rng.sample(range(-9, 10), 2))
        o, c = rng.choice("(["), rng.choice(")]")
        rel = {"(": "<", "[": "\\le"}
        rer = {")": "<", "]": "\\le"}
        add(f"{lo} {rel[o]} x {rer[c]} {hi}", f"{o}{lo},{hi}{c}", True, "form_membership")
        add(f"{lo} {rel[o]} x {rer[c]} {hi + 1}", f"{o}{lo},{hi}{c}", False, "form_membership")
        add(f"x \\in {o}{lo}, {hi}{c}", f"{o}{lo},{hi}{c}", True, "form_membership")
        flip = ("[" if o == "(" else "(") + f"{lo},{hi}" + c
        add(f"x \\in {flip}", f"{o}{lo},{hi}{c}", False, "form_membership")
    for _ in range(10):  # decimals against values no decimal writes (>= 6 significant digits)
        q = Fraction(rng.randint(1, 50), rng.choice([3, 6, 7, 9, 11, 12, 13]))
        if q.denominator in (1, 2, 4, 5):
            q += Fraction(1, 3)
        places = rng.randint(6, 10)
        gold = f"\\frac{{{q.numerator}}}{{{q.denominator}}}"
        add(_dec_digits(q, places, rng.choice(["round", "cut"])), gold, True, "form_decimal")
        add(_dec_digits(q, 2), gold, False, "form_decimal")  # a short decimal is its own value
    for _ in range(6):  # interval endpoints as decimals
        q = Fraction(rng.randint(1, 9), rng.choice([3, 7, 9]))
        if q.denominator == 1:
            q += Fraction(1, 3)
        gold = f"[\\frac{{{q.numerator}}}{{{q.denominator}}}, 4)"
        add(f"[{_dec_digits(q, 7)}, 4)", gold, True, "form_decimal")
        add(f"[{_dec_digits(q, 3)}, 4)", gold, False, "form_decimal")
    for _ in range(6):  # text that went through JSON twice
        q = Fraction(rng.randint(1, 30), rng.choice([2, 3, 5, 7]))
        add(f"\\\\frac{{{q.numerator}}}{{{q.denominator}}}", f"\\frac{{{q.numerator}}}{{{q.denominator}}}", True, "form_json")
        add(f"\\\\frac{{{q.numerator + 1}}}{{{q.denominator}}}", f"\\frac{{{q.numerator}}}{{{q.denominator}}}", False, "form_json")
    return rows


# issue 11: the six families of wrong answers the symbolic path paid, each hack beside the honest
# answer; gold answers that are not math; right answers once called wrong
FORMS_HAND = [
    ("43 \\text{ or } \\boxed{42}", "42", False, "hack_box"),
    ("-\\boxed{42}", "42", False, "hack_box"),
    ("\\boxed{42}+1", "42", False, "hack_box"),
    ("\\frac{\\boxed{42}}{2}", "42", False, "hack_box"),
    ("\\boxed{42} \\ne 42", "42", False, "hack_box"),
    ("\\boxed{42}\\text{ (not 43)}", "42", False, "hack_box"),
    ("\\boxed{1} \\text{ or } \\boxed{2}", "2", False, "hack_box"),
    ("\\boxed{\\boxed{42}}", "42", True, "hack_box"),
    ("\\boxed{1}, \\boxed{2}", "1, 2", True, "hack_box"),
    ("42 \\approx 1000", "42", False, "hack_approx"),
    ("\\approx 42", "42", False, "hack_approx"),
    ("\\pi \\approx 3", "3", False, "hack_approx"),
    ("41.6 \\approx 42", "42.0", False, "hack_approx"),
    ("0.67 \\approx \\frac23", "\\frac23", False, "hack_approx"),
    ("\\frac{2}{3} \\approx 0.68", "\\frac23", False, "hack_approx"),
    ("\\sqrt{2} \\approx 1.414", "\\sqrt{2}", True, "hack_approx"),
    ("\\frac{2}{3} \\approx 0.67", "0.67", False, "hack_approx"),  # a chain is its first member: 2/3 is not 0.67
    ("999.7 \\approx 1000", "999.7", True, "hack_approx"),
    ("\\ln 2 \\approx 0.693", "\\ln 2", True, "hack_approx"),
    ("\\ln 2 \\approx 0.8", "\\ln 2", False, "hack_approx"),
    ("x + 2(3)", "x+5", False, "hack_juxtaposed"),
    ("x + 2(3)", "x+6", True, "hack_juxtaposed"),
    ("2e^{0}", "3", False, "hack_juxtaposed"),
    ("2e^{0}", "2", True, "hack_juxtaposed"),
    ("40 \\quad 2", "42", False, "hack_juxtaposed"),
    ("(2)(3)", "5", False, "hack_juxtaposed"),
    ("(2)(3)", "6", True, "hack_juxtaposed"),
    ("2\\binom{4}{2}", "8", False, "hack_juxtaposed"),
    ("2\\binom{4}{2}x", "12x", True, "hack_juxtaposed"),
    ("\\frac{4}{2}\\binom{3}{1}", "5", False, "hack_juxtaposed"),
    ("\\frac{4}{2}\\binom{3}{1}", "6", True, "hack_juxtaposed"),
    ("\\binom{2}{1}(3)", "5", False, "hack_juxtaposed"),
    ("[2]\\{3\\}", "5", False, "hack_juxtaposed"),
    ("2\\frac{6}{2}", "5", False, "hack_juxtaposed"),
    ("2\\frac{6}{2}", "6", True, "hack_juxtaposed"),
    ("2\\frac{1}{3}", "\\frac73", True, "hack_juxtaposed"),
    ("\\phantom{43}42", "85", False, "hack_juxtaposed"),
    ("\\phantom{43}42", "42", True, "hack_juxtaposed"),
    ("42_8", "42", False, "hack_subscript"),
    ("42_{16}", "42", False, "hack_subscript"),
    ("42_{16}", "42_8", False, "hack_subscript"),
    ("34", "42_8", False, "hack_subscript"),
    ("42", "42_8", True, "hack_subscript"),
    ("42_{8}", "42_8", True, "hack_subscript"),
    ("on", "no", False, "hack_word"),
    ("Evenly", "Evelyn", False, "hack_word"),
    ("listen", "silent", False, "hack_word"),
    ("sey", "yes", False, "hack_word"),
    ("Yes", "yes", True, "hack_word"),
    ("\\text{no}", "no", True, "hack_word"),
    ("\\binom{200}{100}+1", "\\binom{200}{100}", False, "hack_integer"),
    ("\\binom{200}{100}+10^{20}", "\\binom{200}{100}", False, "hack_integer"),
    ("2^{128}+1", "\\lfloor 2^{128} \\rfloor", False, "hack_integer"),
    ("\\lfloor 2^{128}+\\frac12 \\rfloor", "2^{128}+1", False, "hack_integer"),
    ("\\sqrt{10^{80}+1}", "10^{40}", False, "hack_integer"),
    ("2^{128}", "\\lfloor 2^{128} \\rfloor", True, "hack_integer"),
    ("\\sqrt{2}+\\sqrt{3}", "\\sqrt{5+2\\sqrt{6}}", True, "hack_integer"),
    ("north", "north", True, "gold_text"),
    ("North", "north", True, "gold_text"),
    ("south", "north", False, "gold_text"),
    ("42", "north", False, "gold_text"),
    ("3:45", "3:45", True, "gold_text"),
    ("1:15", "3:45", False, "gold_text"),
    ("\\{42\\}", "42", True, "form_right"),
    ("\\{42, 43\\}", "42", False, "form_right"),
    ("\\color{red}{42}", "42", True, "form_right"),
    ("\\textcolor{red}{43}", "42", False, "form_right"),
    ("\\underline{42}", "42", True, "form_right"),
    ("6\\cdot 7=42", "42", True, "form_right"),
    ("6\\cdot 7=41", "41", False, "form_right"),
    ("(x,y)=(1,2)", "(1,2)", True, "form_right"),
    ("(x,y)=(2,1)", "(1,2)", False, "form_right"),
    ("[1,3)\\cup[3,5)", "[1,5)", True, "form_right"),
    ("[1,3)\\cup(3,5)", "[1,5)", False, "form_right"),
    ("0.(3)", "1/3", True, "form_right"),
    ("0.(3)", "0.3", False, "form_right"),
    ("1.(142857)", "\\frac87", True, "form_right"),
    ("\u20105", "-5", True, "form_right"),
    ("\uff0d5", "-5", True, "form_right"),
    ("\uff0d5", "5", False, "form_right"),
    ("|PQ|=3", "3", True, "form_labeled"),
    ("V_{1}:V_{2}=5:7", "5:7", True, "form_labeled"),
    ("V_{1}:V_{2}=7:5", "5:7", False, "form_labeled"),
    ("x^2+y^2=25", "25", False, "form_labeled"),
    ("25", "x^2+y^2=25", False, "form_labeled"),
    ("x = 1, y = 42", "42", False, "form_solutions"),
    ("x=1 \\text{ or } x=2", "1", False, "form_solutions"),
    ("1, 2, 3", "1; 2", False, "form_solutions"),
    ("(1;2;3)", "(1,2,3)", True, "form_solutions"),
    ("(1;2;3)", "(1,2,4)", False, "form_solutions"),
    ("\\left\\{\\begin{array}{l}x=1\\\\y=2\\end{array}\\right.", "(1,2)", True, "form_solutions"),
    ("\\begin{cases} x=1 \\\\ y=3 \\end{cases}", "(1,2)", False, "form_solutions"),
    ("x = 41 = 42", "42", False, "form_chain"),
    ("42 = 6\\cdot 7", "42", True, "form_chain"),
    ("1\\,000\\,000", "10^6", True, "form_spacing"),
    ("3.\\!5", "\\frac72", True, "form_spacing"),
    ("3.\\!5", "\\frac52", False, "form_spacing"),
    ("1 \\le |z| \\le 2", "[-2,-1]\\cup[1,2]", True, "form_membership"),
    ("1 \\le |z| \\le 2", "[-2,2]", False, "form_membership"),
    ("0 \\le |z| \\le 2", "[-2,2]", True, "form_membership"),
    ("0 < f(x) < 1", "(0,1)", True, "form_membership"),
    ("0 < f(x) \\le 1", "(0,1)", False, "form_membership"),
    ("x < -2 \\text{ or } x > 4", "(-\\infty,-2)\\cup(3,\\infty)", False, "form_membership"),
    ("\\{x \\mid x > 2\\}", "(2, \\infty)", True, "form_membership"),
    ("\\{x | x \\ge 2\\}", "(2, \\infty)", False, "form_membership"),
    ("(-\\infty, 0) \\cup (0, \\infty)", "\\mathbb{R}", False, "form_membership"),
    ("(-\\infty, 0] \\cup [0, \\infty)", "\\mathbb{R}", True, "form_membership"),
    ("0.0833333333333", "\\frac{1}{12}", True, "form_decimal"),
    ("0.333", "\\frac{1}{3}", False, "form_decimal"),
    ("0.33333", "\\frac{1}{3}", False, "form_decimal"),
    ("1/3", "0.333333", True, "form_decimal"),
    ("3.14159", "\\pi", True, "form_decimal"),
    ("3.1416", "\\pi", False, "form_decimal"),
    ("2.718282", "e", True, "form_decimal"),
    ("0.125001", "\\frac18", False, "form_decimal"),
    ("\\\\{1,2\\\\}", "\\{1,2\\}", True, "form_json"),
    ("\\\\sqrt{2}", "\\sqrt{3}", False, "form_json"),
    ("\\\\left(1, 2\\\\right)", "(1,2)", True, "form_json"),
    ("\\tan \\alpha = 2", "2", True, "form_labeled"),
    ("\\tan \\alpha = 3", "2", False, "form_labeled"),
    ("AB:BC:CA = 3:4:5", "3:4:5", True, "form_labeled"),
    ("AB:BC:CA = 3:5:4", "3:4:5", False, "form_labeled"),
    ("x_1 = 2, x_2 = 3", "(2, 3)", True, "form_labeled"),
    ("x_1 = 2, x_2 = 4", "(2, 3)", False, "form_labeled"),
    ("(x, y) = (1, 2) \\text{ or } (3, 4)", "(1,2),(3,4)", True, "form_solutions"),
    ("(x, y) = (1, 2)", "(1,2),(3,4)", False, "form_solutions"),
    ("x=\\frac{1}{2} \\text{ or } x=-\\frac{1}{3}", "-\\frac13, \\frac12", True, "form_solutions"),
    ("x=\\frac{1}{2}", "-\\frac13, \\frac12", False, "form_solutions"),
    ("S = \\frac{1}{2} \\cdot 3 \\cdot 4 = 6", "6", True, "form_chain"),
    ("S = \\frac{1}{2} \\cdot 3 \\cdot 4 = 12", "12", False, "form_chain"),
    ("|x| < 2", "(-2,2)", True, "form_membership"),
    ("|x| \\le 2", "(-2,2)", False, "form_membership"),
    ("|x| > 2", "(-\\infty,-2)\\cup(2,\\infty)", True, "form_membership"),
    ("|x| \\ge 2", "(-\\infty,-2)\\cup(2,\\infty)", False, "form_membership"),
    ("(1,5) \\cup (5,5]", "(1,5]", False, "form_membership"),
    ("1:3", "10:30", False, "gold_text"),
    ("1.7320508", "\\sqrt3", True, "form_decimal"),
    ("1.7320", "\\sqrt3", False, "form_decimal"),
]


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
    ("x<-2 \\text{ or } x>3", "(-\\infty,-2)\\cup(3,\\infty)", True, "interval"),
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
    rows += generated_forms(random.Random(11))
    rows += [{"pred": p, "gold": g, "equal": e, "category": c} for p, g, e, c in FORMS_HAND]
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
