"""Issue 11: answers as real data sets write them, and the six families of wrong answers the
symbolic path once paid. Every form has its equal case beside a near miss; every hack family has
the hack beside the honest answer; partial and hedged answers never pass and say which."""

import math

import pytest

from rewardsmith.rules import load_rules
from rewardsmith.verify import is_value, unevaluated, verify_math


def _check(pred, gold, equal):
    v = verify_math(pred, gold, timeout=10)
    assert v.equal is equal, v
    assert v.label in (("equal",) if equal else ("not_equal", "parse_error")), v
    return v


# (pred, gold, equal): each equal case is followed by its near miss
LABELED = [
    ("(a,b)=(2,5)", "(2,5)", True), ("(a,b)=(5,2)", "(2,5)", False),
    ("(2,5)", "(a,b)=(2,5)", True), ("(5,2)", "(a,b)=(2,5)", False),
    ("k=4", "4", True), ("k=5", "4", False),
    ("|PQ|=3", "3", True), ("|PQ|=4", "3", False),
    ("AB:CD=2:3", "2:3", True), ("AB:CD=3:2", "2:3", False),
    ("AB:CD=4:6", "\\frac{2}{3}", True), ("AB:CD=4:5", "\\frac{2}{3}", False),
    ("\\frac{PA}{PB}=\\frac{1}{2}", "\\frac12", True), ("\\frac{PA}{PB}=2", "\\frac12", False),
    ("V_{1}:V_{2}=5:7", "5:7", True), ("V_{1}:V_{2}=7:5", "5:7", False),
    ("\\angle ABC = 30^\\circ", "30", True), ("\\angle ABC = 60^\\circ", "30", False),
    ("f(2) = 7", "7", True), ("f(2) = 8", "7", False),
    ("S_{ABC}=12", "12", True), ("S_{ABC}=21", "12", False),
    ("(x,y)=(1,2)", "x=1, y=2", True), ("(x,y)=(2,1)", "x=1, y=2", False),
    ("x = 1, y = 2", "(1,2)", True), ("y = 2, x = 1", "(1,2)", True), ("x = 2, y = 1", "(1,2)", False),
    ("\\tan \\alpha = 2", "2", True), ("\\tan \\alpha = 3", "2", False),
    ("AB:BC:CA = 3:4:5", "3:4:5", True), ("AB:BC:CA = 3:5:4", "3:4:5", False),
    ("3:4:5", "(3,4,5)", False),  # a ratio of three is not a point
    ("f^{-1}(x) = \\frac{x-1}{2}", "\\frac{x-1}{2}", True), ("f^{-1}(x) = \\frac{x+1}{2}", "\\frac{x-1}{2}", False),
    ("\\text{Area} = 12", "12", True), ("\\text{Area} = 13", "12", False),
    ("a = 1, b = 2, c = 3", "(1, 2, 3)", True), ("c = 1, b = 2, a = 3", "(1, 2, 3)", False),
    ("xy = 6", "6", False),  # a product of variables is not a name
]


@pytest.mark.parametrize("pred, gold, equal", LABELED)
def test_labeled_answers_are_their_value(pred, gold, equal):
    _check(pred, gold, equal)


def test_an_equation_is_not_a_label():
    # a circle's equation is not "25"; a label is a name (x, |PQ|, AB, f(2), a ratio of names)
    _check("25", "x^2+y^2=25", False)
    _check("x^2+y^2=25", "25", False)
    _check("5", "x+y=5", False)


SOLUTIONS = [
    ("x=1,y=2;x=3,y=4", "(1,2),(3,4)", True), ("x=1,y=2;x=3,y=5", "(1,2),(3,4)", False),
    ("(3,4),(1,2)", "x=1,y=2;x=3,y=4", True), ("(3,4)", "x=1,y=2;x=3,y=4", False),
    ("x=1,y=2,x=3,y=4", "(1,2),(3,4)", True), ("x=1,y=2", "(1,2),(3,4)", False),
    ("(1;2;3)", "(1,2,3)", True), ("(1;2;4)", "(1,2,3)", False),
    ("1; 2", "2, 1", True), ("1; 3", "2, 1", False),
    ("1 \\text{ or } 2", "2, 1", True), ("1 \\text{ or } 3", "2, 1", False),
    ("x = 1 \\quad x = 2", "2, 1", True), ("x = 1 \\qquad x = 3", "2, 1", False),
    ("2 \\text{and} 3", "\\{2, 3\\}", True), ("2 \\text{and} 4", "\\{2, 3\\}", False),
    ("\\left\\{\\begin{array}{l}x=1\\\\y=2\\end{array}\\right.", "(1,2)", True),
    ("\\begin{cases} x=1 \\\\ y=3 \\end{cases}", "(1,2)", False),
]


@pytest.mark.parametrize("pred, gold, equal", SOLUTIONS)
def test_several_solutions_in_any_order_all_present(pred, gold, equal):
    _check(pred, gold, equal)


@pytest.mark.parametrize(
    "pred, gold, why",
    [
        ("1", "1, 2", "partial"),  # one root of two
        ("x=1,y=2", "(1,2),(3,4)", "partial"),  # one of two required pairs
        ("(1,2)", "(1,2);(3,4)", "partial"),
        ("1, 2, 3", "1, 2", "hedged"),  # a list that contains the gold among others
        ("41, 42, 43", "42", "hedged"),
        ("x = 41 \\text{ or } x = 42", "42", "hedged"),
        ("(1,2),(3,4),(5,6)", "(1,2),(3,4)", "hedged"),
        ("x=1 \\text{ or } x=2", "x^2-3x+2=0 \\text{ has roots } 1", None),  # just unequal
    ],
)
def test_partial_and_hedged_answers_never_pass_and_say_which(pred, gold, why):
    v = verify_math(pred, gold, timeout=10)
    assert not v.equal and v.label in ("not_equal", "parse_error"), v
    if why is not None:
        assert v.reason.startswith(why), v


def test_partial_and_hedged_answers_pay_the_wrong_answer_reward():
    seed = load_rules("seed-tiered")
    for pred, gold in [("1", "1, 2"), ("1, 2, 3", "1, 2"), ("41 \\text{ or } 42", "42")]:
        out = seed.score(f"<think>a</think><answer>{pred}</answer>", gold)
        assert (out.label, out.reward) == ("wrong_answer", -0.5), (pred, out)


CHAINS = [
    ("x = 3+4 = 7", "7", True), ("x = 3+4 = 8", "8", False), ("x = 3+4 = 8", "7", False),
    ("6\\cdot 7=42", "42", True), ("6\\cdot 7=41", "41", False),
    ("42 = 6\\cdot 7", "42", True), ("x = 41 = 42", "42", False),
    ("\\frac{2}{3} \\approx 0.67", "\\frac23", True), ("\\frac{2}{3} \\approx 0.68", "\\frac23", False),
    ("\\frac{2}{3} \\approx 0.67", "0.67", False), ("\\frac{2}{3} \\approx 0.67", "0.68", False),  # as 2/3 vs 0.67
    ("x \\approx 0.67", "0.67", True), ("x \\approx 0.67", "\\frac23", False),  # a short decimal
    ("\\sqrt{2} \\approx 1.414", "\\sqrt{2}", True), ("\\sqrt{2} \\approx 1.5", "\\sqrt{2}", False),
    ("\\ln 2 \\approx 0.693", "\\ln 2", True), ("\\ln 2 \\approx 0.8", "\\ln 2", False),
]


@pytest.mark.parametrize("pred, gold, equal", CHAINS)
def test_true_chains_are_their_value_false_ones_nothing(pred, gold, equal):
    _check(pred, gold, equal)


def test_a_false_chain_says_so():
    v = verify_math("x = 3+4 = 8", "8")
    assert not v.equal and v.reason.startswith("false statement"), v


SPACING = [
    ("12,\\!345", "12345", True), ("12,\\!345", "12346", False),
    ("1\\,000", "1000", True), ("1\\,001", "1000", False),
    ("3.\\!5", "3.5", True), ("3.\\!5", "\\frac52", False),
    ("1\\,000\\,000", "10^6", True), ("1\\,000\\,001", "10^6", False),
]


@pytest.mark.parametrize("pred, gold, equal", SPACING)
def test_spacing_commands_inside_numbers(pred, gold, equal):
    _check(pred, gold, equal)


MEMBERSHIP = [
    ("x \\in [1,2]", "[1,2]", True), ("x \\in [1,3]", "[1,2]", False),
    ("1 \\le x \\le 2", "[1,2]", True), ("1 \\le x < 2", "[1,2]", False),
    ("1 \\le |z| \\le 2", "[-2,-1]\\cup[1,2]", True), ("1 \\le |z| \\le 2", "[-2,2]", False),
    ("1 < |z| \\le 2", "[-2,-1)\\cup(1,2]", True), ("1 \\le |z| < 2", "[-2,-1)\\cup(1,2]", False),
    ("0 < f(x) < 1", "(0,1)", True), ("0 < f(x) \\le 1", "(0,1)", False),
    ("x<-2 \\text{ or } x>3", "(-\\infty,-2)\\cup(3,\\infty)", True),
    ("x\\le-2 \\text{ or } x>3", "(-\\infty,-2)\\cup(3,\\infty)", False),
    ("\\{x \\mid x > 2\\}", "(2,\\infty)", True), ("\\{x \\mid x \\ge 2\\}", "(2,\\infty)", False),
    ("[1,3)\\cup[3,5)", "[1,5)", True), ("[1,3)\\cup(3,5)", "[1,5)", False),
    ("(-\\infty,0]\\cup[0,\\infty)", "\\mathbb{R}", True), ("(-\\infty,0)\\cup(0,\\infty)", "\\mathbb{R}", False),
    ("(1,5)\\cup[5,5]", "(1,5]", True), ("(1,5)\\cup(5,5]", "(1,5]", False),  # (5,5] is empty
    ("|x| < 2", "(-2,2)", True), ("|x| \\le 2", "(-2,2)", False),
    ("|x| > 2", "(-\\infty,-2)\\cup(2,\\infty)", True), ("|x| \\ge 2", "(-\\infty,-2)\\cup(2,\\infty)", False),
]


@pytest.mark.parametrize("pred, gold, equal", MEMBERSHIP)
def test_membership_and_compound_inequalities(pred, gold, equal):
    _check(pred, gold, equal)


DECIMALS = [  # the one rule: >= 6 significant digits, the exact value rounded or cut off there
    ("0.0833333333333", "\\frac{1}{12}", True), ("0.0833333", "\\frac{1}{12}", True),
    ("0.083333", "\\frac{1}{12}", False),  # 5 significant digits: a short decimal is its own value
    ("0.333", "\\frac13", False), ("0.333333", "\\frac13", True), ("0.333334", "\\frac13", False),
    ("0.666667", "\\frac23", True), ("0.666666", "\\frac23", True), ("0.666668", "\\frac23", False),
    ("\\frac13", "0.333333", True), ("\\frac13", "0.33", False),  # the rule is symmetric
    ("3.14159", "\\pi", True), ("3.1416", "\\pi", False),
    ("1.41421", "\\sqrt2", True), ("1.41422", "\\sqrt2", False),
    ("2.718282", "e", True), ("2.7183", "e", False),  # symbolic path, same rule
    ("0.125001", "\\frac18", False),  # 1/8 has a decimal: it must be written exactly
    ("[0.333333, 1]", "[\\frac13, 1]", True), ("[0.33, 1]", "[\\frac13, 1]", False),
    ("(0.142857, 2)", "(\\frac17, 2)", True), ("(0.142858, 2)", "(\\frac17, 2)", False),
]


@pytest.mark.parametrize("pred, gold, equal", DECIMALS)
def test_decimals_against_exact_values(pred, gold, equal):
    _check(pred, gold, equal)


JSON_TWICE = [
    ("\\\\frac{1}{2}", "0.5", True), ("\\\\frac{1}{3}", "0.5", False),
    ("\\\\sqrt{2}", "\\sqrt{2}", True), ("\\\\sqrt{2}", "\\sqrt{3}", False),
    ("\\\\{1,2\\\\}", "\\{1,2\\}", True), ("\\\\{1,3\\\\}", "\\{1,2\\}", False),
]


@pytest.mark.parametrize("pred, gold, equal", JSON_TWICE)
def test_doubled_backslashes(pred, gold, equal):
    _check(pred, gold, equal)


RIGHT_ANSWERS = [  # once called wrong
    ("\\{42\\}", "42", True), ("\\{42, 43\\}", "42", False),
    ("\\color{red}{42}", "42", True), ("\\textcolor{red}{43}", "42", False),
    ("\\underline{42}", "42", True), ("\\underline{24}", "42", False),
    ("0.(3)", "1/3", True), ("0.(3)", "0.3", False), ("1.(142857)", "\\frac87", True),
    ("\u20105", "-5", True), ("\uff0d5", "-5", True), ("\uff0d5", "5", False),
]


@pytest.mark.parametrize("pred, gold, equal", RIGHT_ANSWERS)
def test_right_answers_once_called_wrong(pred, gold, equal):
    _check(pred, gold, equal)


# the six families: (hack, honest answer, gold)
HACKS = [
    ("43 \\text{ or } \\boxed{42}", "\\boxed{42}", "42"),
    ("-\\boxed{42}", "42", "42"),
    ("\\boxed{42}+1", "\\boxed{\\boxed{42}}", "42"),
    ("\\frac{\\boxed{42}}{2}", "\\frac{84}{2}", "42"),
    ("\\boxed{42} \\ne 42", "42", "42"),
    ("42 \\approx 1000", "42 \\approx 42.0", "42"),
    ("\\approx 42", "42", "42"),
    ("x + 2(3)", "x + 2(3)", "x+5"),  # the hack is 2(3) read as 5; honest below
    ("2e^{0}", "3e^{0}", "3"),
    ("40 \\quad 2", "40 + 2", "42"),
    ("42_8", "42", "42"),
    ("42_{16}", "66", "66"),
    ("on", "no", "no"),
    ("Evenly", "Evelyn", "Evelyn"),
    ("listen", "silent", "silent"),
    ("\\binom{200}{100}+1", "\\binom{200}{100}", "\\binom{200}{100}"),
    ("\\binom{200}{100}+10^{20}", "\\frac{200!}{100!\\,100!}", "\\binom{200}{100}"),
    ("2^{128}+1", "2^{128}", "\\lfloor 2^{128} \\rfloor"),
    ("\\sqrt{10^{80}+1}", "\\sqrt{10^{80}}", "10^{40}"),
]


@pytest.mark.parametrize("hack, honest, gold", HACKS)
def test_each_hack_beside_the_honest_answer(hack, honest, gold):
    v = verify_math(hack, gold, timeout=10)
    assert not v.equal, v
    if hack != honest:
        assert verify_math(honest, gold, timeout=10).equal, honest


def test_juxtaposed_numbers_multiply_on_both_paths():
    assert verify_math("x + 2(3)", "x+6", timeout=10).equal
    assert verify_math("2(3)", "6").path == "exact" and verify_math("2(3)", "6").equal
    assert verify_math("(2)(3)", "6").equal and not verify_math("(2)(3)", "5", timeout=10).equal
    assert not verify_math("2\\binom{4}{2}", "8", timeout=10).equal
    assert verify_math("2\\binom{4}{2}x", "12x", timeout=10).equal


FACTORS_2 = ["2", "(2)", "[2]", "{2}", "\\sqrt{4}", "\\frac{4}{2}", "\\binom{2}{1}", "|2|"]
FACTORS_3 = ["3", "(3)", "{3}", "\\sqrt{9}", "\\frac{6}{2}", "\\binom{3}{1}", "3e^{0}", "\\{3\\}"]


@pytest.mark.parametrize("left", FACTORS_2)
def test_factors_side_by_side_are_never_their_sum(left):
    # the grammar reads two number-valued atoms side by side as a sum (a mixed number): 2(3) = 5
    for right in FACTORS_3:
        for sep in ("", "\\,"):
            v = verify_math(left + sep + right, "5", timeout=10)
            assert not v.equal, (left + sep + right, v)
    assert verify_math("x + " + left + "(3)", "x+6", timeout=10).equal


def test_a_base_subscript_is_kept():
    assert verify_math("42", "42_8").equal and verify_math("42_{8}", "42_8").equal
    assert not verify_math("34", "42_8").equal and not verify_math("42_{16}", "42_8").equal
    assert not verify_math("42_8", "42").equal


@pytest.mark.parametrize(
    "hack",
    ["-{B}", "{B}+1", "1+{B}", "2{B}", "{B}^2", "\\sqrt{{B}}", "{B} = 43", "x = {B} + 1", "\\{{B}, 43\\}",
     "{B} \\approx 43", "43 {B}", "{B}43", "\\boxed{4}\\boxed{2}", "|{B}|-84", "{B}!"],
)
def test_a_box_inside_the_answer_is_never_just_the_box(hack):
    assert not verify_math(hack.replace("{B}", "\\boxed{42}"), "42", timeout=10).equal


@pytest.mark.parametrize("pred, gold", [("(no, yes)", "(on, yes)"), ("no, yes", "yes, on"), ("(Evelyn, 1)", "(Evenly, 1)")])
def test_words_inside_structures_are_text_too(pred, gold):
    assert not verify_math(pred, gold, timeout=10).equal
    assert verify_math(gold, gold).equal and verify_math(pred.upper(), pred).equal


@pytest.mark.parametrize(
    "pred, gold, equal",
    [("\\text{No solution}", "\\emptyset", True), ("\\emptyset", "\\text{none}", True),
     ("\\text{No solution}", "0", False), ("0", "\\text{no solution}", False), ("\\text{some}", "\\emptyset", False)],
)
def test_no_solution_is_the_empty_set(pred, gold, equal):
    assert verify_math(pred, gold).equal is equal


def test_words_compare_as_text_and_an_unreadable_gold_never_drops_the_row():
    for pred, gold, eq in [("on", "no", False), ("No", "no", True), ("south", "north", False),
                           ("North", "north", True), ("42", "north", False), ("1:15", "3:45", False),
                           ("3:45", "3:45", True), ("1:3", "10:30", False), ("10:12", "5:6", True)]:
        v = verify_math(pred, gold, timeout=10)
        assert v.equal is eq and v.label in ("equal", "not_equal"), (pred, gold, v)
    seed = load_rules("seed-tiered")
    out = seed.score("<think>a</think><answer>south</answer>", "north")
    assert out.label == "wrong_answer" and out.reward == -0.5  # not an error with NaN
    out = seed.score("<think>a</think><answer>north</answer>", "north")
    assert out.label == "correct"
    out = seed.score("<think>a</think><answer>4</answer>", "\\weirdmacro{x}")
    assert out.label == "wrong_answer" and not math.isnan(out.reward)


@pytest.mark.parametrize(
    "answer, value",
    [("42", True), ("-\\frac{3}{4}", True), ("2\\sqrt{3}", True), ("\\frac{1+\\sqrt5}{2}", True),
     ("3\\pi/4", True), ("50\\%", True), ("(1, \\frac12)", True), ("[1, \\infty)", True),
     ("x = 42", True), ("2\\frac{1}{2}", True), ("10^{6}", True), ("x = 3+4 = 7", True),
     ("17+25", False), ("6 \\cdot 7", False), ("2^{10}", False), ("5!", False), ("\\binom{5}{2}", False),
     ("\\sin 30^\\circ", False), ("\\frac{17+25}{2}", False), ("(17+25, 1)", False), ("x = 17+25", False)],
)
def test_value_form(answer, value):
    assert is_value(answer) is value


def test_answer_form_value_rule_option():
    default = load_rules("seed-tiered")
    strict = load_rules({"extends": "seed-tiered", "answer": {"form": "value"}})
    echo = "<think>a</think><answer>17+25</answer>"
    assert default.score(echo, "42").label == "correct"  # the default is unchanged
    out = strict.score(echo, "42")
    assert (out.label, out.reward) == ("wrong_answer", -0.5)
    assert out.details["verdict"]["label"] == "unevaluated"
    assert out.details["verdict"]["reason"].startswith("unevaluated")
    assert strict.score("<think>a</think><answer>42</answer>", "42").label == "correct"
    assert strict.score("<think>a</think><answer>43</answer>", "42").label == "wrong_answer"
    # a gold that is an expression keeps the plain comparison
    assert strict.score("<think>a</think><answer>2x+2</answer>", "2(x+1)").label == "correct"
    assert unevaluated("17+25", "42") and unevaluated("42", "42") is None
    with pytest.raises(ValueError, match="form"):
        load_rules({"extends": "seed-tiered", "answer": {"form": "values"}})
