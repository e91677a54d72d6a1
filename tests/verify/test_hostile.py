"""Hostile inputs: each returns within its timeout with a label; nothing hangs or crashes.

pytest-timeout turns a hang into a failure; each test also asserts the label it must get."""

import pytest

from rewardsmith.verify import LABELS, extract_answer, verify_math
from rewardsmith.verify._worker import get_pool

# Math-Verify 0.9.0 spends its whole 5 s signal.alarm budget on this one (and str() of its parse
# result never returns); its timeout cannot run off the main thread at all.
HANG = "\\dfrac{5^{(5^{(5^{5^5})}-4)}-5}{16}"
MB = 1_000_000


@pytest.mark.timeout(30)
@pytest.mark.parametrize("pred", ["9^{9^{9^9}}", "(10^{100})!", HANG, "2^{2^{2^{2^{2^{2}}}}}", "9" * 5000, "10^{10^{10}}", "1e999999999"])
def test_huge_values_are_refused_not_computed(pred):
    v = verify_math(pred, "5", timeout=2)
    assert (v.label, v.path, v.equal) == ("parse_error", "exact", False), v
    assert v.reason.startswith("prediction: refused") or v.reason.startswith("refused"), v
    # and as the gold answer
    assert verify_math("5", pred, timeout=2).label == "parse_error"


@pytest.mark.timeout(30)
def test_identical_huge_answers_are_equal_without_computing():
    assert verify_math("9^{9^{9^9}}", "9^{ 9^{9^9} }").label == "equal"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("pred", ["x + " + HANG, "x^{9^{9^9}}", "\\sin(9^{9^{9^9}})"])
def test_huge_values_on_the_symbolic_path_time_out(pred):
    v = verify_math(pred, "x", timeout=1.0)
    assert (v.label, v.path, v.equal) == ("timeout", "symbolic", False), v
    assert verify_math("x+x", "2x", timeout=30).equal  # the replacement worker works


@pytest.mark.timeout(30)
@pytest.mark.parametrize("depth", [10_000, 4_000, 150])
def test_deeply_nested_parentheses(depth):
    pred = "(" * depth + "1" + ")" * depth
    v = verify_math(pred, "1", timeout=2)
    assert v.label == "parse_error" and not v.equal, v
    sym = "x+" + "(" * depth + "x" + ")" * depth
    assert verify_math(sym, "2x", timeout=2).label == "parse_error"


@pytest.mark.timeout(30)
def test_moderate_nesting_still_works():
    assert verify_math("(" * 50 + "1/2" + ")" * 50, "0.5").label == "equal"


@pytest.mark.timeout(30)
def test_megabyte_completion_through_extraction_and_verify():
    completion = "Let me think. " * (MB // 14) + "Therefore $\\boxed{\\frac{3}{4}}$."
    pred = extract_answer(completion, "boxed")
    assert pred == "\\frac{3}{4}"
    assert verify_math(pred, "0.75").label == "equal"
    huge_answer = "\\boxed{" + "1+" * (MB // 2) + "1}"
    pred = extract_answer(huge_answer, "boxed")
    assert len(pred) > MB // 2
    v = verify_math(pred, "3", timeout=2)
    assert v.label == "parse_error" and "longer than" in v.reason, v
    v = verify_math("3", pred, timeout=2)  # a gold refused as math is compared as text
    assert v.label == "not_equal" and v.reason.startswith("gold") and "longer than" in v.reason, v


@pytest.mark.timeout(30)
def test_invalid_utf8_and_control_characters():
    raw = b"\xff\xfe\x80 so \\boxed{\xc3\x28 4} \x00\x07\x1b[31m the answer is \xed\xa0\x80 5."
    text = raw.decode("utf-8", errors="surrogateescape")
    for mode in ("answer_tag", "boxed", "the_answer_is", "last_number"):
        out = extract_answer(text, mode)
        if out is not None:
            assert verify_math(out, "4", timeout=2).label in LABELS
    assert verify_math("5\x00", "5").label == "equal"  # control characters are spacing
    assert verify_math("\x07\x1b", "5").label == "parse_error"
    v = verify_math("\udcff\udcfe", "1", timeout=2)
    assert v.label in ("parse_error", "not_equal") and not v.equal, v


PATHOLOGICAL = [
    "1 " + "a" * 5000 + "-a",  # would blow up a nested-quantifier unit regex
    "\\text{" * 1500,  # unbalanced groups: a per-group brace scan would be quadratic
    "{" * 5000 + "}" * 4000,
    "1" + "\\frac{1}" * 1200,
    "2\\frac{1\\frac{1\\frac{1\\frac{1\\frac{1\\frac{1\\frac{1\\frac{1{2}}}}}}}}}" * 10,
    ",".join(["1"] * 4000),
    "\\sqrt" * 2000 + "{2}",
    "x" * 9000,
    "=" * 5000,
    "(" * 90 + ")" * 90 + "(1,2" * 500,
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("pred", PATHOLOGICAL, ids=[f"p{i}" for i in range(len(PATHOLOGICAL))])
def test_regex_and_parser_pathological_strings(pred):
    v = verify_math(pred, "1", timeout=2)
    assert v.label in LABELS and not v.equal, v


@pytest.mark.timeout(90)
def test_a_batch_with_hostile_members_completes_with_right_answers():
    batch = [
        ("1/2", "0.5", True),
        ("9^{9^{9^9}}", "5", False),
        ("x^2-1", "(x-1)(x+1)", True),
        ("x^{9^{9^9}}", "x", False),
        ("(" * 10_000 + ")" * 10_000, "1", False),
        ("\\{1,2\\}", "\\{2,1\\}", True),
        (HANG, "3", False),
        ("2x", "x+x", True),
    ]
    out = [verify_math(p, g, timeout=1.0) for p, g, _ in batch]
    assert [v.equal for v in out] == [e for _, _, e in batch]
    assert {v.label for v in out} <= set(LABELS)
    assert out[3].label == "timeout"


@pytest.mark.timeout(60)
def test_a_dead_idle_worker_is_replaced():
    pool = get_pool()
    assert verify_math("x+1", "1+x", timeout=30).equal
    for w in list(pool._idle):
        w.proc.kill()
        w.proc.wait()
    assert verify_math("x+2", "2+x", timeout=30).equal


def _worker_pids() -> list[int]:
    """Our own symbolic worker processes (children of this process), from /proc."""
    import os

    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and b"rewardsmith.verify._worker" in cmd:
            pids.append(int(d))
    return pids


@pytest.mark.skipif(not __import__("os").path.isdir("/proc/self"), reason="needs /proc")
@pytest.mark.timeout(90)
def test_a_worker_killed_mid_request_gives_a_label_and_the_next_call_works():
    import os
    import signal
    import threading
    import time

    assert verify_math("x+1", "1+x", timeout=30).equal
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("v", verify_math("x^{9^{9^9}}", "x", timeout=3)))
    t.start()
    time.sleep(1.0)
    for pid in _worker_pids():  # kill every worker of ours, the busy one included
        os.kill(pid, signal.SIGKILL)
    t.join()
    v = out["v"]
    assert v.label in ("error", "timeout") and not v.equal, v
    assert verify_math("x+7", "7+x", timeout=30).equal
