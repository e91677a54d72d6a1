"""Red team round 3 (/work/redteam/math.md): wrong answers that were paid +1, each hack beside the
honest answer, and right answers that were refused. Each case failed before its fix."""

import pytest

from rewardsmith.rules import load_rules
from rewardsmith.verify import verify_math

SEED = load_rules("seed-tiered")


def _eq(pred, gold):
    return verify_math(pred, gold, timeout=10).equal


def _score(pred, gold, rules=SEED):
    return rules.score(f"<think>x</think><answer>{pred}</answer>", gold)


# 1-TOP: "v \approx round(v)" hedged every near miss onto a decimal gold. A chain's value is its
# first member, compared by the decimal rule like any other value.
APPROX_HEDGES = [
    ("0.46 \\approx 0.5", "0.5", "0.5"),
    ("\\frac{5}{11}\\approx 0.5", "\\frac12 \\approx 0.5", "0.5"),
    ("\\frac13\\approx0.3", "0.3", "0.3"),
    ("12.46 \\approx 12.5", "12.5", "12.5"),
    ("x = 0.46 \\approx 0.5", "x = 0.5", "0.5"),
    ("0.96 \\approx 1.0", "1.0 \\approx 1", "1.0"),
    ("-0.46 \\approx -0.5", "-0.5", "-0.5"),
    ("\\frac{5}{11} \\approx 0.45 \\approx 0.5", "\\frac{1}{2} \\approx 0.5", "0.5"),
    ("0.46 \\approx 0.5, 0.7", "0.5, 0.7", "0.5, 0.7"),
    ("(0.46 \\approx 0.5, 2)", "(0.5, 2)", "(0.5, 2)"),
    ("\\frac23 \\approx 0.67", "0.67", "0.67"),  # exactly as 2/3 vs 0.67: a short decimal
    ("0.67", "\\frac23 \\approx 0.67", "\\frac23"),
]


@pytest.mark.parametrize("hack, honest, gold", APPROX_HEDGES)
def test_an_approximation_is_its_first_member(hack, honest, gold):
    assert not _eq(hack, gold), hack
    assert _score(hack, gold).reward < 0, hack
    assert _eq(honest, gold), honest


def test_approximation_chains_still_equal_their_exact_value():
    assert _eq("\\frac23 \\approx 0.67", "\\frac23")
    assert _eq("(\\frac23 \\approx 0.67, 2)", "(\\frac23, 2)")  # once refused: infinite recursion
    assert not _eq("(\\frac23 \\approx 0.68, 2)", "(\\frac23, 2)")  # a false link
    assert _eq("\\frac13 \\approx 0.333333", "0.333333")  # 6 digits: the decimal rule


# 1e: a function without parentheses took the whole following product or quotient as its argument
# (\ln 2 \cdot 3 was ln 6). Its argument is now the factors side by side after it.
FUNC_SCOPE = [  # (hack, gold it was paid for, honest answer for that gold)
    ("\\ln 2 \\cdot 3", "\\ln 6", "\\ln 2 + \\ln 3"),
    ("\\sin x / x", "\\sin 1", "\\sin(1)"),
    ("\\ln 8/2", "\\ln 4", "2\\ln 2"),
    ("\\cos x / 2", "\\cos(x/2)", "\\cos\\frac{x}{2}"),
    ("\\sin 30^\\circ \\cdot 2", "\\sin 60^\\circ", "\\frac{\\sqrt3}{2}"),
    ("\\ln x \\cdot 2", "\\ln(2x)", "\\ln 2 + \\ln x"),
    ("\\exp x\\cdot 2", "e^{2x}", "\\exp(2x)"),
    ("\\ln 2 \\ln 3", "\\ln(2\\ln 3)", "\\ln(2 \\ln 3)"),
    ("\\cos x \\cdot \\sin x", "\\cos(x\\sin x)", "\\cos(x \\sin x)"),
    ("\\sin^2 x \\cdot 2", "\\sin^2(2x)", "\\sin^2 (2x)"),
]


@pytest.mark.parametrize("hack, gold, honest", FUNC_SCOPE)
def test_a_braceless_function_argument_stops_at_an_operator(hack, gold, honest):
    assert not _eq(hack, gold), hack
    assert _score(hack, gold).reward < 0, hack
    assert _eq(honest, gold), honest


@pytest.mark.parametrize("pred, gold", [
    ("\\ln 2 \\cdot 3", "3\\ln 2"), ("\\sin x / x", "\\frac{\\sin x}{x}"), ("\\ln 8 / \\ln 2", "3"),
    ("\\log_2 8 / 3", "1"), ("2\\sin x\\cos x", "\\sin(2x)"), ("\\sin 2x", "2\\sin x \\cos x"),
    ("\\sin x\\cos x", "\\frac{\\sin 2x}{2}"), ("\\sin x", "\\sin(x)"), ("\\ln 2", "\\ln(2)"),
    ("\\sin \\pi x", "\\sin(\\pi x)"), ("\\sin x^2", "\\sin(x^2)"), ("\\sqrt{3}\\sin x\\cdot 2", "2\\sqrt3\\sin x"),
])
def test_braceless_functions_read_as_written(pred, gold):
    assert _eq(pred, gold), pred


# 1a: "and" between inequalities was read as "or": x<1 and x>3 (no number) equalled the union.
@pytest.mark.parametrize("hack, honest, gold", [
    ("x<1 \\text{ and } x>3", "x<1 \\text{ or } x>3", "(-\\infty,1)\\cup(3,\\infty)"),
    ("x>1 \\text{ and } x<3", "x<0 \\text{ or } x \\ge 0", "(-\\infty,0)\\cup[0,\\infty)"),
    ("x<1 \\text{ and } x>3", "x \\ne x", "1, 3"),
    ("x>1 \\text{ and } x<3", "x>1 \\text{ and } x \\le 3", "(1,3]"),
    ("x>1 \\text{ and } y<3", "x>1 \\text{ and } x<3", "(1,3)"),  # two variables: refused
])
def test_and_between_inequalities_is_an_intersection(hack, honest, gold):
    assert not _eq(hack, gold), hack
    assert _score(hack, gold).reward < 0, hack
    if honest != "x \\ne x":
        assert _eq(honest, gold), honest


@pytest.mark.parametrize("pred, gold", [
    ("x>1 \\text{ and } x<3", "(1,3)"), ("x \\ge 1 \\text{ and } x<3", "[1,3)"), ("x>1 \\land x<3", "(1,3)"),
    ("x<1 \\text{ and } x>3", "\\emptyset"), ("x>0 \\text{ and } x>2", "(2,\\infty)"), ("(1,3)", "x>1 \\text{ and } x<3"),
    ("1, 2, and 3", "1, 2, 3"),
])
def test_and_intersections_that_hold(pred, gold):
    assert _eq(pred, gold), pred


# 1f: a trailing letter that spells a unit was dropped even as a variable (a+2m was a+2).
@pytest.mark.parametrize("hack, honest, gold", [
    ("a+2m", "a+2", "a+2"), ("a+2", "a+2m", "a+2m"), ("2m", "2", "2"), ("2", "2m", "2m"),
    ("\\frac12 g", "\\frac12", "\\frac12"), ("\\frac12", "\\frac{g}{2}", "\\frac12 g"),
    ("4\\sqrt2", "4\\sqrt{2}m", "4\\sqrt{2} m"), ("3", "3l", "3l"), ("2s", "2m", "2m"), ("2h", "2g", "2g"),
    ("x = 2m", "x = 2", "2"), ("a+2 cm", "a+2", "a+2"),
])
def test_a_variable_is_never_dropped_as_a_unit(hack, honest, gold):
    assert not _eq(hack, gold), hack
    assert _score(hack, gold).reward < 0, hack
    assert _eq(honest, gold), honest


@pytest.mark.parametrize("pred, gold", [
    ("5 \\text{ cm}", "5"), ("5 cm", "5"), ("5 m", "5"), ("12 dollars", "12"), ("3.5 kg", "3.5"),
    ("\\frac12 \\text{ g}", "\\frac12"), ("4\\sqrt{2} \\text{ m}", "4\\sqrt2"), ("4\\sqrt{2} cm", "4\\sqrt2"),
    ("10 \\mathrm{m}", "10"), ("2 hours", "2"), ("42 ways", "42"),
])
def test_units_that_are_clearly_units_are_dropped(pred, gold):
    assert _eq(pred, gold), pred


# 1d: answer.form: value paid unevaluated forms (the copied question "Compute \sqrt{1764}").
STRICT = load_rules({"extends": "seed-tiered", "answer": {"form": "value"}})

UNEVALUATED = [  # (hack, honest, gold)
    ("\\sqrt{1764}", "42", "42"), ("\\frac{84}{2}", "42", "42"), ("84/2", "42", "42"),
    ("\\dfrac{84}{2}", "42", "42"), ("\\frac{6}{8}", "\\frac{3}{4}", "\\frac34"), ("84/1", "84", "84"),
    ("\\sqrt{12}", "2\\sqrt{3}", "2\\sqrt3"), ("\\sqrt{3}+\\sqrt{3}", "2\\sqrt3", "2\\sqrt3"),
    ("\\pi + \\pi", "2\\pi", "2\\pi"), ("2\\sqrt{3}+0", "2\\sqrt{3}", "2\\sqrt3"),
    ("1\\frac{3}{1}", "3", "3"), ("\\frac{2\\sqrt3}{2}", "\\sqrt3", "\\sqrt3"),
    ("3\\pi/6", "\\pi/2", "\\frac{\\pi}{2}"), ("\\frac{2+2\\sqrt5}{4}", "\\frac{1+\\sqrt5}{2}", "\\frac{1+\\sqrt5}{2}"),
    ("(\\frac{2}{4}, 1)", "(\\frac12, 1)", "(\\frac12, 1)"), ("\\sqrt{4}", "2", "2"),
]


@pytest.mark.parametrize("hack, honest, gold", UNEVALUATED)
def test_value_form_wants_the_simplest_written_form(hack, honest, gold):
    out = STRICT.score(f"<think>x</think><answer>{hack}</answer>", gold)
    assert (out.label, out.reward) == ("wrong_answer", -0.5), (hack, out)
    assert out.details["verdict"]["label"] == "unevaluated", out.details
    assert STRICT.score(f"<think>x</think><answer>{honest}</answer>", gold).label == "correct", honest
    assert SEED.score(f"<think>x</think><answer>{hack}</answer>", gold).label == "correct"  # default: any


@pytest.mark.parametrize("answer", [
    "\\frac34", "-\\frac{3}{4}", "\\frac{-3}{4}", "2\\sqrt{3}", "\\frac{\\sqrt3}{2}", "\\frac{1+\\sqrt5}{2}",
    "3\\pi/4", "\\sqrt{2}+\\sqrt{3}", "1+\\sqrt2", "1\\frac{1}{3}", "0.5", "\\sqrt{1000003}", "1+i",
])
def test_simplest_forms_are_values(answer):
    from rewardsmith.verify import is_value
    assert is_value(answer), answer


# 2g: {,} was always dropped, so the decimal comma 4{,}2 (4.2) was paid for 42.
@pytest.mark.parametrize("hack, honest, gold", [
    ("4{,}2", "42", "42"), ("3{,}14", "314", "314"), ("12{,}3456", "123456", "123456"),
])
def test_a_decimal_comma_is_never_a_thousands_separator(hack, honest, gold):
    assert not _eq(hack, gold), hack
    assert _score(hack, gold).reward < 0, hack
    assert _eq(honest, gold), honest


@pytest.mark.parametrize("pred, gold", [
    ("4{,}2", "4.2"), ("3{,}14", "3.14"), ("0{,}5", "\\frac12"), ("(1{,}5, 2)", "(1.5, 2)"),
    ("12{,}345", "12345"), ("1{,}000{,}000", "1000000"),
])
def test_brace_commas_read_as_written(pred, gold):
    assert _eq(pred, gold), pred


# 2a/2e: a matrix row separator followed by a space or a letter was rewritten as a doubled
# backslash (JSON twice), so \begin{pmatrix} 1 \\ 2 \end{pmatrix} became "1 2" (unreadable).
@pytest.mark.parametrize("pred, gold, equal", [
    ("\\begin{pmatrix}1\\\\2\\end{pmatrix}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", True),
    ("\\begin{pmatrix}2\\\\1\\end{pmatrix}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", False),
    ("\\begin{pmatrix} 12 \\end{pmatrix}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", False),
    ("\\begin{pmatrix} 0.5 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix} \\frac12 \\\\ 2 \\end{pmatrix}", True),
    ("\\begin{pmatrix} 0.5 \\\\ 3 \\end{pmatrix}", "\\begin{pmatrix} \\frac12 \\\\ 2 \\end{pmatrix}", False),
    ("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\begin{pmatrix} 1&2\\\\3&4 \\end{pmatrix}", True),
    ("\\begin{pmatrix} 1 & 2 \\\\ 3 & 5 \\end{pmatrix}", "\\begin{pmatrix} 1&2\\\\3&4 \\end{pmatrix}", False),
    ("\\begin{pmatrix}x\\\\y\\end{pmatrix}", "\\begin{pmatrix}x\\\\ y\\end{pmatrix}", True),
    ("\\begin{pmatrix}2x\\\\y\\end{pmatrix}", "\\begin{pmatrix}x+x\\\\y\\end{pmatrix}", True),
    ("\\begin{pmatrix}2x\\\\y\\end{pmatrix}", "\\begin{pmatrix}x\\\\y\\end{pmatrix}", False),
    ("\\begin{pmatrix} 1 \\\\ 2 \\\\ 3 \\end{pmatrix}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", False),
])
def test_matrix_rows_with_spaces(pred, gold, equal):
    assert _eq(pred, gold) is equal, (pred, gold)


# 2b/2d/2f/1g: right answers in ordinary TeX that were refused, beside their near misses.
@pytest.mark.parametrize("pred, gold, equal", [
    ("5~\\text{cm}", "5", True), ("6~\\text{cm}", "5", False), ("x = 5~\\text{m}", "5", True),
    ("42~", "42", True), ("\\$~42", "42", True), ("42~43", "42", False),
    ("\\frac{\\sqrt{\\pi}}{2}", "\\frac{\\sqrt\\pi}{2}", True), ("\\frac{\\sqrt{\\pi}}{3}", "\\frac{\\sqrt\\pi}{2}", False),
    ("x/2", "\\frac x2", True), ("x/3", "\\frac x2", False), ("\\arctan 1", "\\frac\\pi4", True),
    ("\\frac\\pi4", "\\frac{\\pi}{3}", False), ("\\sqrt x", "\\sqrt{x}", True), ("\\sqrt\\pi", "\\sqrt{\\pi}", True),
    ("\\sqrt y", "\\sqrt{x}", False), ("\\frac12x", "\\frac{x}{2}", True),
    ("x\\geqslant 2", "[2,\\infty)", True), ("x\\geqslant 2", "(2,\\infty)", False),
    ("1 \\leqslant x \\leqslant 2", "[1,2]", True), ("A \\leftarrow B", "A \\rightarrow B", False),
])
def test_ordinary_tex_spellings(pred, gold, equal):
    assert _eq(pred, gold) is equal, (pred, gold)


# 1c: the random-point identity test had a 1e-20 relative tolerance and a 1e-300 floor; a
# rational function at a rational point is now compared exactly.
@pytest.mark.parametrize("hack, honest, gold", [
    ("x^{1000}+x", "x^{1000}", "x^{1000}"), ("10^{-30}x+y", "y", "y"), ("x(1+10^{-25})", "x", "x"),
    ("x", "x+10^{-30}x", "x+10^{-30}x"), ("e^{-1000}x", "0", "0"),
])
def test_tiny_differences_in_expressions_are_differences(hack, honest, gold):
    assert not _eq(hack, gold), hack
    assert _eq(honest, gold), honest


# 2i: ratios of three or more parts are defined up to scale, like two-part ones.
@pytest.mark.parametrize("pred, gold, equal", [
    ("2:4:6", "1:2:3", True), ("2:4:7", "1:2:3", False), ("\\frac12:1:\\frac32", "1:2:3", True),
    ("3:2:1", "1:2:3", False), ("a:b:c = 2:4:6", "1:2:3", True), ("a:b:c = 2:6:4", "1:2:3", False),
    ("1:2:3:4", "2:4:6:8", True), ("(1,2,3)", "1:2:3", False),
])
def test_ratios_are_scale_free(pred, gold, equal):
    assert _eq(pred, gold) is equal, (pred, gold)
