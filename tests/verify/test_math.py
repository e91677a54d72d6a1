"""verify_math / math_equal: forms, structure decisions, labels, paths, cache, worker, regressions."""

import threading
import time

import pytest

from rewardsmith.verify import LABELS, Verdict, math_equal, verify_math
from rewardsmith.verify._worker import get_pool
from rewardsmith.verify.prepare import _prepare

EQUAL_EXACT = [
    ("42", "42.0"),
    ("+7", "7"),
    ("-0", "0"),
    ("0.5", "\\frac{1}{2}"),
    ("1/2", "\\dfrac{2}{4}"),
    ("\\tfrac34", "0.75"),
    ("\\frac{-3}{4}", "-\\frac{3}{4}"),
    ("2\\frac{1}{2}", "\\frac{5}{2}"),
    ("-2\\frac{1}{2}", "-2.5"),
    ("50\\%", "50"),
    ("50\\%", "0.5"),
    ("1,234,567", "1234567"),
    ("1{,}000", "10^3"),
    ("\u22125", "-5"),
    ("$\\frac{1}{3}$", "\\frac13"),
    ("\\left(\\frac{1}{2}\\right)", "0.5"),
    ("30^\\circ", "30"),
    ("5\\text{ cm}", "5"),
    ("5\\text{ cm}^2", "5"),
    ("12 dollars", "12"),
    ("\\$1{,}234.50", "1234.5"),
    ("2\\sqrt{3}", "\\sqrt{12}"),
    ("\\frac{1}{\\sqrt{2}}", "\\frac{\\sqrt{2}}{2}"),
    ("\\frac{2}{1-\\sqrt{3}}", "-1-\\sqrt{3}"),
    ("(\\sqrt{5}-1)^2", "6-2\\sqrt{5}"),
    ("\\frac{\\pi}{2}", "\\pi/2"),
    ("3\\pi", "\\pi \\cdot 3"),
    ("2^{10}", "1024"),
    ("10^{-3}", "0.001"),
    ("5!", "120"),
    ("0.1\\overline{6}", "\\frac{1}{6}"),
    ("\\boxed{7}", "7"),
    ("1.5e3", "1500"),
    ("2.5E-2", "0.025"),
]


@pytest.mark.parametrize("pred, gold", EQUAL_EXACT)
def test_common_forms_equal_on_the_exact_path(pred, gold):
    v = verify_math(pred, gold)
    assert (v.label, v.path) == ("equal", "exact"), v
    assert v.equal is True and math_equal(pred, gold) is True
    # symmetric
    assert verify_math(gold, pred).label == "equal"


NOT_EQUAL_EXACT = [
    ("42", "43"),
    ("-5", "5"),
    ("\\frac{2}{3}", "\\frac{3}{2}"),
    ("0.333", "\\frac{1}{3}"),  # decimals are exact values
    ("3.14", "\\pi"),
    ("\\sqrt{2}", "1.414"),
    ("\\sqrt{2}", "\\sqrt{3}"),
    ("50\\%", "0.6"),
    ("1,234", "1243"),
]


@pytest.mark.parametrize("pred, gold", NOT_EQUAL_EXACT)
def test_common_forms_unequal_on_the_exact_path(pred, gold):
    v = verify_math(pred, gold)
    assert (v.label, v.path, v.equal) == ("not_equal", "exact", False), v


@pytest.mark.parametrize(
    "pred, gold, equal",
    [
        ("(1,2)", "(1, 2)", True),
        ("(1,2)", "(2,1)", False),  # tuple order matters
        ("(1,2)", "\\{1,2\\}", False),  # a tuple / open interval is not a set
        ("\\{1,2\\}", "(1,2)", False),
        ("[1,2)", "(1,2)", False),  # brackets of an interval matter
        ("(1,2]", "(1,2)", False),
        ("(1,2)", "[1,2]", False),
        ("\\left[-1, \\frac12\\right)", "[-1, 0.5)", True),
        ("(-\\infty, 3]", "(-\\infty,3]", True),
        ("(-\\infty, 3]", "(\\infty, 3]", False),
        ("\\{2,1,3\\}", "\\{1,2,3\\}", True),  # set order does not matter
        ("\\{1,2,2\\}", "\\{1,2\\}", True),  # duplicates collapse
        ("\\{1,2\\}", "\\{1,2,3\\}", False),
        ("2, 1", "1, 2", True),  # a bare list of solutions is unordered
        ("1, 2", "\\{1,2\\}", True),
        ("1, 2", "(1,2)", False),
        ("2, 3", "2", False),
        ("\\emptyset", "\\{\\}", True),
        ("(-\\infty,1)\\cup(2,\\infty)", "(2,\\infty)\\cup(-\\infty,1)", True),
        ("(-\\infty,1)\\cup(2,\\infty)", "(-\\infty,1]\\cup(2,\\infty)", False),
        ("x \\in [1,2]", "[1,2]", True),
        ("x=3", "3", True),  # a lone variable on the left is an assignment
        ("3", "y = 3", True),
        ("x=3", "4", False),
        ("f(x)=2", "2", True),
        ("x=-2, x=3", "3, -2", True),
        ("y=x", "x=y", True),
        ("\\pm 2", "2, -2", True),  # a single \pm is the list of both signs
        ("x = \\pm\\sqrt{3}", "-\\sqrt{3}, \\sqrt{3}", True),
        ("\\frac{1\\pm\\sqrt{5}}{2}", "\\frac{1-\\sqrt5}{2}, \\frac{1+\\sqrt5}{2}", True),
        ("2021", "\\pm 2021", False),
    ],
)
def test_structures_are_kept_distinct(pred, gold, equal):
    v = verify_math(pred, gold)
    assert v.equal is equal and v.label == ("equal" if equal else "not_equal"), v


@pytest.mark.parametrize(
    "pred, gold, equal",
    [
        ("y=2x+1", "y=1+2x", True),
        ("2y=4x+2", "y=2x+1", True),  # equivalent equations (proportional)
        ("y=2x+1", "y=2x-1", False),
        ("x^2+y^2=1", "x+y=1", False),
        ("y = -1/2*x + 3/4", "2x+4y-3=0", True),
        ("x^2+2x+1", "(x+1)^2", True),
        ("\\frac{x}{2}", "0.5x", True),
        ("x^2", "2x", False),
        ("\\sqrt{x^2}", "x", False),  # |x| != x
        ("\\sin^2 x+\\cos^2 x", "1", True),
        ("\\log_2 8", "3", True),
        ("\\sqrt[3]{8}", "2", True),
        ("x > 2", "2 < x", True),
        ("x \\ge 2", "x > 2", False),
    ],
)
def test_symbolic_path(pred, gold, equal):
    v = verify_math(pred, gold, timeout=10)
    assert v.path == "symbolic", v
    assert v.equal is equal and v.label == ("equal" if equal else "not_equal"), v


# Math-Verify 0.9.0 gets each of these wrong (measured in benchmarks/math_verify.py); we must not.
MATH_VERIFY_REGRESSIONS = [
    ("(1,2)", "\\{1,2\\}", False),  # it: equal (tuple read as a set)
    ("\\frac{1}{2004!}", "\\frac{1}{2006!}", False),  # it: equal (both round to 0)
    ("\\frac{1}{2^{99}}", "\\frac{1}{2^{98}}", False),
    ("\\frac{1}{3 \\cdot 2^{2006}}", "\\frac{2^{2005}+1}{3 \\cdot 2^{2006}}", False),
    ("1 + \\frac{1}{\\mathrm{e}}", "1 - \\frac{1}{\\mathrm{e}}", False),
    ("3*x-1*y+13=0", "3x + 4y + 14=0", False),  # it: both equations "parse to 0" (unwrapped)
    ("x-y=0", "x+y=0", False),
    ("4\\sqrt{2}", "4", False),
    ("\\frac{x^2}{16}+\\frac{y^2}{12}=1", "\\frac{x^2}{4}+\\frac{y^2}{3}=1", False),
    ("12 dollars", "12", True),  # it: not equal (unit word kept)
    ("\\frac{x^2}{16}+\\frac{y^2}{12}=1", "3x^2+4y^2=48", True),
    ("x \\in [1,2]", "[1,2]", True),
]


@pytest.mark.parametrize("pred, gold, equal", MATH_VERIFY_REGRESSIONS)
def test_math_verify_mistakes_stay_fixed(pred, gold, equal):
    assert verify_math(pred, gold, timeout=10).equal is equal


def test_verdict_shape_and_labels():
    v = verify_math("1/2", "0.5")
    assert isinstance(v, Verdict) and bool(v) is True
    assert LABELS == ("equal", "not_equal", "timeout", "parse_error", "error")
    assert v.label in LABELS and isinstance(v.reason, str) and v.reason


def test_no_prediction_is_a_parse_error_not_a_silent_zero():
    v = verify_math(None, "3")
    assert (v.equal, v.label) == (False, "parse_error")
    assert "no answer" in v.reason
    assert verify_math("", "3").label == "parse_error"


def test_unreadable_gold_is_compared_as_text_and_a_blank_gold_is_an_error():
    v = verify_math("3", "\\frac{")
    assert v.label == "not_equal" and "compared as text" in v.reason, v
    assert verify_math("\\frac{", "\\frac{").label == "equal"
    for blank in ("", "  ", "$$"):
        v = verify_math("3", blank)
        assert v.label == "parse_error" and v.reason.startswith("gold"), v


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "2", True])
def test_bad_timeout_is_a_value_error(bad):
    with pytest.raises(ValueError, match="timeout"):
        verify_math("1", "1", timeout=bad)


def test_bad_gold_type_is_a_value_error():
    with pytest.raises(ValueError, match="gold"):
        verify_math("1", 1)
    with pytest.raises(ValueError, match="pred"):
        verify_math(1, "1")


def test_gold_parse_is_cached():
    _prepare.cache_clear()
    gold = "\\frac{17}{19}"
    for pred in ["17/19", "0.5", "\\frac{34}{38}", "1", "2", "3", "4", "5"]:
        verify_math(pred, gold)
    info = _prepare.cache_info()
    assert info.hits >= 7  # the gold was normalized and structured once, not 8 times


@pytest.mark.timeout(60)
def test_timeout_is_a_label_and_the_worker_is_replaced():
    pool = get_pool()
    assert verify_math("x+1", "1+x", timeout=30).label == "equal"  # worker warm
    started = pool.started
    t0 = time.monotonic()
    v = verify_math("x^{9^{9^9}}", "x", timeout=0.5)  # sympy evaluates 9^387420489: hangs
    elapsed = time.monotonic() - t0
    assert (v.label, v.path, v.equal) == ("timeout", "symbolic", False), v
    assert elapsed < 10  # a fractional timeout is honored (plus kill), not rounded to seconds
    assert verify_math("2x", "x+x", timeout=30).label == "equal"  # a fresh worker answers
    assert pool.started == started + 1


@pytest.mark.timeout(120)
def test_symbolic_checks_from_threads():
    results = {}

    def work(i):
        results[i] = (
            verify_math(f"x+{i}", f"{i}+x", timeout=30).label,
            verify_math("x^{9^{9^9}}", "x", timeout=0.5).label if i == 0 else "timeout",
        )

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: ("equal", "timeout") for i in range(3)}


@pytest.mark.timeout(60)
def test_a_worker_started_from_a_finished_thread_survives_it():
    pool = get_pool()
    pool.shutdown()  # no idle workers: the thread below must start one
    t = threading.Thread(target=lambda: verify_math("x+5", "5+x", timeout=30))
    t.start()
    t.join()
    started = pool.started
    time.sleep(0.3)
    assert all(w.alive() for w in pool._idle) and pool._idle
    assert verify_math("x+6", "6+x", timeout=30).equal
    assert pool.started == started  # reused, not restarted


def _symbolic_label(pair):
    return verify_math(pair[0], pair[1], timeout=30).label


@pytest.mark.timeout(120)
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_works_inside_process_pools(method):
    """From daemonic pool workers and after fork (a forked child must not share the parent's
    worker pipes: it starts its own)."""
    import multiprocessing as mp

    assert verify_math("x+1", "1+x", timeout=30).equal  # the parent holds a warm worker
    ctx = mp.get_context(method)
    with ctx.Pool(2) as pool:  # multiprocessing.Pool workers are daemonic
        labels = pool.map(_symbolic_label, [("x+1", "1+x"), ("x^2", "x*x"), ("2x", "3x"), ("x", "x+0")])
    assert labels == ["equal", "equal", "not_equal", "equal"]
    assert verify_math("x+3", "3+x", timeout=30).equal  # the parent's worker still answers


# Found by red-teaming the verifier: each is an answer a policy could learn to exploit (one string
# graded equal to two different golds, an error that escapes the wrong-answer tier) or a common
# form it got wrong.
RED_TEAM = [
    ("2 3", "6", False), ("2 3", "23", False), ("1 12", "12", False), ("1 12", "112", False),
    ("1 2 3", "6", False), ("1 1/2", "1.5", True), ("-1 1/2", "-1.5", True), ("1 1/2", "0.5", False),
    ("11/2", "1 1/2", False), ("1 000", "0", False), ("1 000 000", "10^6", True),
    ("\\log_2 8", "3", True),
    ("g \\circ f", "f \\circ g", False), ("5 \\circ 6", "30", False), ("5 \\circ 6", "56", False),
    ("g \\circ f", "g\\circ f", True), ("30^\\circ", "30", True), ("\\sin 30^\\circ", "\\frac12", True),
    ("\\text{ACB}", "\\text{ABC}", False), ("\\text{silent}", "\\text{listen}", False),
    ("\\text{no solution}", "\\text{solution no}", False), ("\\text{Even}", "\\text{even}", True),
    ("\\text{Yes}", "Yes", True), ("2 \\text{ or } 3", "2", False),
    ("f'(x)", "f(x)", False), ("x'", "x", False), ("f'(x)", "f'(x)", True),
    ("3!!", "720", False), ("3!!", "3", True), ("5!!", "15", True), ("(3!)!", "720", True),
    ("2²", "4", True), ("x²", "x^2", True), ("x₁", "x_1", True), ("2⁻¹", "0.5", True), ("½", "0.5", True),
    ("1½", "1.5", True),
    # false negatives it had: inequalities against intervals, a solved variable on the right, all reals
    ("1 \\le x \\le 2", "[1,2]", True), ("x>2", "(2,\\infty)", True), ("2<x", "(2,\\infty)", True),
    ("(2,\\infty)", "x>2", True), ("1>x>0", "(0,1)", True), ("x \\le 3", "(-\\infty,3)", False),
    ("0<x<1", "[0,1]", False), ("x>2", "[2,\\infty)", False), ("2x<4", "x<2", True),
    ("3=x", "3", True), ("\\mathbb{R}", "(-\\infty,\\infty)", True),
]


@pytest.mark.parametrize("pred, gold, equal", RED_TEAM)
def test_red_team_cases(pred, gold, equal):
    assert verify_math(pred, gold, timeout=10).equal is equal


@pytest.mark.parametrize("pred", ["2²", "x₁", "\\gcd(12,18)", "⁻", "₋₋", "5~~\\weird"])  # 5~ is 5 (~ is a space)
def test_a_prediction_that_breaks_the_parser_is_a_parse_error_not_unscored(pred):
    v = verify_math(pred, "5", timeout=10)
    assert v.label in ("parse_error", "not_equal"), v


@pytest.mark.parametrize("pred", [
    "".join("(\\sqrt{%d}+\\sqrt{%d})" % (2 * i + 2, 2 * i + 3) for i in range(19)),
    "(\\sqrt2+\\sqrt3+\\sqrt5+\\sqrt6+\\sqrt7+\\sqrt{10}+\\sqrt{11}+\\sqrt{13}+\\sqrt{14}+\\sqrt{15}+\\sqrt{17}+\\sqrt{37})^{32}",
    "*".join(["\\sqrt{9999999967}"] * 550),
])
def test_exact_path_refuses_exploding_radicals_quickly(pred):
    import time

    t0 = time.perf_counter()
    v = verify_math(pred, "1", timeout=1)
    assert v.label == "parse_error" and "refused" in v.reason, v
    assert time.perf_counter() - t0 < 1.0
