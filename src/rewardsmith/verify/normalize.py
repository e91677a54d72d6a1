"""Step 1 of reading an answer: ``normalize(text)``, its canonical text.

Strips ``$``, ``\\left``/``\\right``, spacing commands, a ``\\boxed{}`` around the whole answer,
``\\text{}`` units and trailing unit words (``5 cm``), ``^\\circ``, colour/phantom/decoration
markup; maps ``\\dfrac``/``\\tfrac`` to ``\\frac``, unicode math signs to LaTeX (``x²`` to ``x^{2}``,
``½`` to ``\\frac{1}{2}``), ``a \\text{ or } b`` to a list, a system (``\\begin{cases}``) to a list
of its rows, and drops thousands separators. ``squash(text)`` is the comparison key: spaces
dropped except one between two letters or digits. Pure string work, linear in the input.
"""

from __future__ import annotations

import re

__all__ = ["normalize", "squash"]


_UNICODE = {
    "\u2212": "-",  # minus sign
    "\u2013": "-",
    "\u2010": "-",  # hyphen, non-breaking hyphen, figure dash, fullwidth and small minus
    "\u2011": "-",
    "\u2012": "-",
    "\uff0d": "-",
    "\ufe63": "-",
    "\uff0b": "+",
    "\u00d7": "*",
    "\u22c5": "*",
    "\u00b7": "*",
    "\u00f7": "/",
    "\u03c0": "\\pi ",
    "\u221e": "\\infty ",
    "\u221a": "\\sqrt ",
    "\u00b0": "^\\circ ",  # degree sign
    "\u222a": "\\cup ",
    "\u2264": "\\le ",
    "\u2265": "\\ge ",
    "\u00a0": " ",
    "\u2205": "\\emptyset ",
}
_UNICODE_RE = re.compile("|".join(map(re.escape, _UNICODE)))
# x² -> x^{2}, 2⁻¹ -> 2^{-1}, x₁ -> x_{1}, 1½ -> 1\frac{1}{2} (a mixed number)
_SUPER = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻", "0123456789+-")
_SUB = str.maketrans("₀₁₂₃₄₅₆₇₈₉₊₋", "0123456789+-")
_SUPER_RE = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻]+")
_SUB_RE = re.compile("[₀₁₂₃₄₅₆₇₈₉₊₋]+")
_VULGAR = {"½": (1, 2), "⅓": (1, 3), "⅔": (2, 3), "¼": (1, 4), "¾": (3, 4), "⅕": (1, 5), "⅖": (2, 5),
           "⅗": (3, 5), "⅘": (4, 5), "⅙": (1, 6), "⅚": (5, 6), "⅛": (1, 8), "⅜": (3, 8), "⅝": (5, 8),
           "⅞": (7, 8)}
_VULGAR_RE = re.compile("[" + "".join(_VULGAR) + "]")


def _unicode_scripts(s: str) -> str:
    s = _SUPER_RE.sub(lambda m: "^{" + m.group(0).translate(_SUPER) + "}", s)
    s = _SUB_RE.sub(lambda m: "_{" + m.group(0).translate(_SUB) + "}", s)
    return _VULGAR_RE.sub(lambda m: "\\frac{%d}{%d}" % _VULGAR[m.group(0)], s)

# Replacements applied in order (plain substring replacement: linear, no backtracking).
_REPLACE = [
    ("\\dfrac", "\\frac"),
    ("\\tfrac", "\\frac"),
    ("\\cfrac", "\\frac"),
    ("\\displaystyle", ""),
    ("\\leftrightarrow", "\\iff"),  # before \left / \right: \leftarrow is not "arrow"
    ("\\leftarrow", "\\gets"),
    ("\\rightarrow", "\\to"),
    ("\\leqslant", "\\le"),  # before \leq: \leqslant is not \leslant
    ("\\geqslant", "\\ge"),
    ("\\left", ""),
    ("\\right", ""),
    ("\\bigcup", "\\cup"),
    ("\\bigl", ""),
    ("\\bigr", ""),
    ("\\Bigl", ""),
    ("\\Bigr", ""),
    ("\\big", ""),
    ("\\Big", ""),
    ("\\!", ""),
    ("\\,", ""),
    ("\\;", ""),
    ("\\:", ""),
    ("\\ ", " "),
    ("~", " "),  # a non-breaking space: 5~\text{cm}
    ("{,}", ""),
    ("\\cdot", "*"),
    ("\\times", "*"),
    ("\\ast", "*"),
    ("\\div", "/"),
    ("**", "^"),
    ("\\$", ""),
    ("$", ""),
    ("^{\\circ}", ""),
    ("^\\circ", ""),
    ("\\degree", ""),
    ("\\%", "%"),
    ("\\lbrace", "\\{"),
    ("\\rbrace", "\\}"),
    ("\\lbrack", "["),
    ("\\rbrack", "]"),
    ("\\leq", "\\le"),
    ("\\geq", "\\ge"),
    ("\\infin", "\\infty"),
    ("\\varnothing", "\\emptyset"),
    ("\\dots", ""),
    ("\\ldots", ""),
]

_TRIG = ("\\sin", "\\cos", "\\tan", "\\cot", "\\sec", "\\csc")
_DEGREE = ("^{\\circ}", "^\\circ", "\\degree")
_TEXT_CMDS = ("\\text", "\\textbf", "\\textit", "\\textrm", "\\mbox", "\\mathrm", "\\mathbf", "\\operatorname")
_UNIT_WORDS = frozenset(
    """
    cm mm m km meter meters metre metres centimeter centimeters kilometer kilometers inch inches in ft
    foot feet yard yards yd mile miles mi mph kph kmh kg g gram grams kilogram kilograms lb lbs pound
    pounds oz ounce ounces l ml liter liters litre litres gallon gallons s sec second seconds min minute
    minutes h hr hrs hour hours day days week weeks month months year years yr dollar dollars cent cents
    usd degree degrees deg rad radian radians unit units sq square cubic percent people students apples
    per times ways
    """.split()
)
_WORD_RE = re.compile(r"[A-Za-z]+")


def _brace_map(s: str) -> dict[int, int]:
    """{index of ``{``: index just past its matching ``}``} for the whole string, one pass
    (escaped ``\\{``/``\\}`` skipped); unbalanced braces are absent."""
    out: dict[int, int] = {}
    stack: list[int] = []
    n = len(s)
    j = 0
    while j < n:
        c = s[j]
        if c == "\\":
            j += 2
            continue
        if c == "{":
            stack.append(j)
        elif c == "}" and stack:
            out[stack.pop()] = j + 1
        j += 1
    return out


def _is_unit_text(content: str) -> bool:
    words = _WORD_RE.findall(content)
    if not words:
        return False
    rest = _WORD_RE.sub("", content)
    if any(c not in " ^/.{}0123456789-" for c in rest):
        return False
    return all(w.lower() in _UNIT_WORDS for w in words)


_PLAIN_NUMBER_RE = re.compile(r"[+-]?\d[\d,]*(?:\.\d+)?%?")
_NUMBER_CMDS_RE = re.compile(r"\\(?:[dt]?frac|sqrt|pi|cdot|times)(?![A-Za-z])")


def _drops_unit(head: str, words: list, spaced: bool) -> bool:
    """Whether bare trailing unit words (``5 cm``, ``12 dollars``) are units, not variables: the
    rest must be a number with no variable in it (``a+2 cm`` keeps its letters), a word of one or
    two letters (``m``, ``cm``, ``in``) must stand after a space (``2m`` is 2m), and a one-letter
    word only after a plain number literal (``5 m`` is 5; ``\\frac12 g`` is g/2). Units in
    ``\\text{}``/``\\mathrm{}`` are dropped anywhere they end the answer."""
    if any(len(w) <= 2 for w in words) and not spaced:
        return False
    if any(len(w) == 1 for w in words):
        return bool(_PLAIN_NUMBER_RE.fullmatch(head))
    return not _WORD_RE.search(_NUMBER_CMDS_RE.sub("", head))


def _strip_text_commands(s: str) -> str:
    """``\\text{cm}``-style units are dropped; other ``\\text{...}`` groups are unwrapped."""
    out: list[str] = []
    braces = _brace_map(s)
    has_value = False  # something other than spaces already written
    i = 0
    n = len(s)
    while i < n:
        if s[i] == "\\":
            cmd = None
            for c in _TEXT_CMDS:
                if s.startswith(c, i) and not s[i + len(c) : i + len(c) + 1].isalpha():
                    cmd = c
                    break
            if cmd is not None:
                j = i + len(cmd)
                while j < n and s[j] == " ":
                    j += 1
                if j < n and s[j] == "{" and j in braces:
                    end = braces[j]
                    content = s[j + 1 : end - 1]
                    if _is_unit_text(content) and has_value:
                        out.append(" ")  # a unit after a value: dropped, with its power
                        if s.startswith("^", end):
                            if s.startswith("^{", end) and end + 1 in braces:
                                end = braces[end + 1]
                            elif end + 1 < n and s[end + 1].isdigit():
                                end += 2
                    else:
                        out.append(" " + content + " ")
                        has_value = has_value or bool(content.strip())
                    i = end
                    continue
        out.append(s[i])
        has_value = has_value or not s[i].isspace()
        i += 1
    return "".join(out)


_SHORT_ARG = r"(?: ?(\d|\\pi(?![A-Za-z]))| ([A-Za-z]))"  # \frac12, \frac\pi4, \frac x2: one token
_FRAC_SHORT_RE = re.compile(r"\\frac" + _SHORT_ARG + r" ?(\d|\\pi(?![A-Za-z])|[A-Za-z])")
_SQRT_SHORT_RE = re.compile(r"\\sqrt" + _SHORT_ARG)
_U_UNION_RE = re.compile(r"([)\]])\s?U\s?([(\[])")
_THOUSANDS_RE = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_SPACE_THOUSANDS_RE = re.compile(r"[+-]?\d{1,3}(?: \d{3})+(?:\.\d+)?")
_ASSIGN_PREFIX = ("final answer:", "answer:")


_MATRIX_RE = re.compile(r"(?<!\\)\\begin\{[pbvBV]?matrix\}")  # written once: its \\ are rows
_ROW_SEP_RE = re.compile(r"\s*\\\\\s*")  # a row separator, its spaces dropped (\ would be a space)
_DOUBLED_BACKSLASH_RE = re.compile(r"\\\\(?=[A-Za-z{}()\[\],;:!%$ ])")  # \\frac -> \frac (JSON twice)
_COLOR_RE = re.compile(r"\\(?:textcolor|color)\s*\{[A-Za-z0-9!. ]*\}")  # \color{red}{42} -> {42}
_PHANTOM_RE = re.compile(r"\\[hv]?phantom\s*\{[^{}]*\}")  # invisible: \phantom{43}42 is 42, not 85
_DECORATION_RE = re.compile(r"\\(?:underline|boldsymbol|bm|mathit|mathsf|mathtt|hbox)(?![A-Za-z])")
_THIN_THOUSANDS_RE = re.compile(r"(?<=\d),\\!(?=\d{3})")  # 12,\!345
_PAREN_REPEAT_RE = re.compile(r"(\d\.\d*)\((\d{1,50})\)")  # 0.(3) -> 0.\overline{3}
_BRACE_COMMA_RE = re.compile(r"(?<=\d)\{,\}(\d+)")
_SEPARATORS = ("\\qquad", "\\quad", " or ", " and ")
_INEQ_MARKS = ("<", ">", "\\le", "\\ge", "\\lt", "\\gt")


_EMPTY_ITEMS_RE = re.compile(r"(?:\s*,)+")
_BOXES = ("\\boxed", "\\fbox")


def _unwrap_box_items(s: str) -> str:
    """``\\boxed{a}, \\boxed{b}``: a box that is one whole item of a list is unwrapped; a box
    anywhere else (``-\\boxed{42}``, ``\\boxed{42}+1``) is left for ``prepare`` to refuse."""
    braces = _brace_map(s)
    out: list[str] = []
    i = 0
    n = len(s)
    while i < n:
        box = next((b for b in _BOXES if s.startswith(b, i)), None)
        if box is not None:
            j = i + len(box)
            while j < n and s[j] == " ":
                j += 1
            end = braces.get(j, -1) if j < n and s[j] == "{" else -1
            before = "".join(out).rstrip()
            after = s[end:].lstrip() if end > 0 else ""
            if end > 0 and (not before or before[-1] in ",;") and (not after or after[0] in ",;"):
                out.append(s[j + 1 : end - 1])
                i = end
                continue
        out.append(s[i])
        i += 1
    return "".join(out)


_SYSTEM_ENV_RE = re.compile(r"\\(?:begin|end)\{(?:cases|array|aligned|align\*?|gathered|split)\}(?:\{[lcr|]*\})?")


def _systems(s: str) -> str:
    r"""``\left\{\begin{array}{l} x=1 \\ y=2 \end{array}\right.`` and ``\begin{cases}``: the rows
    of a system as a list ``x=1, y=2`` (matrices keep their environments)."""
    s = _SYSTEM_ENV_RE.sub(" ", s)
    s = s.replace("\\\\", ",").replace("&", " ")
    s = s.replace("\\left.", "").replace("\\right.", "")
    t = s.strip()
    for o in ("\\left\\{", "\\{"):
        if t.startswith(o) and "\\}" not in t:  # the brace of a system, never closed
            t = t[len(o) :]
    return t


def normalize(s: str) -> str:
    """Canonical text of an answer (see module docstring). Pure, linear, bounded input."""
    s = s.strip()
    if "\\begin{" in s and _SYSTEM_ENV_RE.search(s):
        s = _systems(s)
    if "\\\\" in s and "matrix}" in s and _MATRIX_RE.search(s):  # rows of a matrix: 1 \\ 2, x\\y
        s = _ROW_SEP_RE.sub(r"\\\\", s)
    elif "\\\\" in s:  # text that went through JSON twice: \\frac{1}{2}
        s = _DOUBLED_BACKSLASH_RE.sub(r"\\", s)
    if not s.isascii():
        s = _unicode_scripts(s)
    if _UNICODE_RE.search(s):
        s = _UNICODE_RE.sub(lambda m: _UNICODE[m.group(0)], s)
    # drop control characters (and lone surrogates from surrogateescape-decoded bytes)
    if not s.isprintable():
        s = "".join(c if (c.isprintable() and not "\ud800" <= c <= "\udfff") else " " for c in s)
    low = s.lower()
    for p in _ASSIGN_PREFIX:
        if low.startswith(p):
            s = s[len(p) :]
            break
    while len(s) > 4 and s.startswith("**") and s.endswith("**"):  # markdown bold
        s = s[2:-2].strip()
    s = s.replace("\\(", "").replace("\\)", "").replace("\\[", "").replace("\\]", "")
    if "\\color" in s or "\\textcolor" in s:
        s = _COLOR_RE.sub("", s)
    if "phantom" in s:
        s = _PHANTOM_RE.sub(" ", s)
    if "\\underline" in s or "\\b" in s or "\\math" in s or "\\hbox" in s:
        s = _DECORATION_RE.sub("", s)
    if ",\\!" in s:
        s = _THIN_THOUSANDS_RE.sub("", s)
    if "{,}" in s:  # 1{,}000 groups thousands; 3{,}14 is a decimal comma, never 314
        s = _BRACE_COMMA_RE.sub(lambda m: ("" if len(m.group(1)) == 3 else ".") + m.group(1), s)
    trig = any(f in s for f in _TRIG)
    for a, b in _REPLACE:
        if a in s and not (trig and a in _DEGREE):  # sin 30^\circ: degrees stay, sympy converts
            s = s.replace(a, b)
    # \boxed{...} wrapping the whole answer
    for box in ("\\boxed", "\\fbox", "\\boxed", "\\fbox"):  # twice: \boxed{\boxed{7}}
        if s.startswith(box):
            j = len(box)
            while j < len(s) and s[j] == " ":
                j += 1
            if j < len(s) and s[j] == "{" and s.endswith("}"):
                end = _brace_map(s).get(j, -1)
                if end == len(s):
                    s = s[j + 1 : end - 1]
    if "\\frac" in s or "\\sqrt" in s:  # \frac12 -> \frac{1}{2}, \sqrt3 -> \sqrt{3} (sympy's grammar wants braces)
        s = _FRAC_SHORT_RE.sub(lambda m: "\\frac{%s}{%s}" % (m.group(1) or m.group(2), m.group(3)), s)
        s = _SQRT_SHORT_RE.sub(lambda m: "\\sqrt{%s}" % (m.group(1) or m.group(2)), s)
    if "\\text" in s or "\\mbox" in s or "\\math" in s or "\\operatorname" in s:
        s = _strip_text_commands(s)
    s = " ".join(s.split())
    s = s.rstrip(".").strip()
    if " and " in s:  # "x > 1 and x < 3": both hold (an intersection), never a list of answers
        conj = s.split(" and ")
        if all(any(r in c for r in _INEQ_MARKS) for c in conj):
            s = " \\wedge ".join(c.strip(" ,") for c in conj)
    if "quad" in s or " or " in s or " and " in s:  # "19, 46, and 82", "2 or 3", "x=1 \\quad x=2": a list
        for sep in _SEPARATORS:
            s = s.replace(sep, ", ")
        s = _EMPTY_ITEMS_RE.sub(",", s).strip(" ,")
    if "\\boxed" in s or "\\fbox" in s:
        s = _unwrap_box_items(s)
    if "(" in s and "." in s:
        s = _PAREN_REPEAT_RE.sub(r"\1\\overline{\2}", s)
    # "5 cm", "12 dollars": trailing unit words after a value (a backwards scan, no regex)
    if s and s[-1].isalpha():
        i = len(s)
        while i > 0 and (s[i - 1].isascii() and (s[i - 1].isalpha() or s[i - 1] == " ")):
            i -= 1
        head, words = s[:i].rstrip(), s[i:].split()
        if head and head[-1] in "0123456789}%" and words and all(w.lower() in _UNIT_WORDS for w in words):
            if _drops_unit(head, words, spaced=s[i] == " "):
                s = head
    if "U" in s:  # "(1,2) U (3,4)": a U between intervals is a union
        s = _U_UNION_RE.sub(r"\1 \\cup \2", s)
    if s in ("\\mathbb{R}", "\\mathbb R", "\\R", "\\reals"):  # all reals
        s = "(-\\infty, \\infty)"
    if "," in s and _THOUSANDS_RE.fullmatch(s):
        s = s.replace(",", "")
    elif " " in s and _SPACE_THOUSANDS_RE.fullmatch(s):  # "1 000 000" (SI style)
        s = s.replace(" ", "")
    return s


_GAP_RE = re.compile(r"(?<![0-9A-Za-z.]) | (?![0-9A-Za-z.])")


def squash(text: str) -> str:
    """Spaces dropped, except a single one between two letters or digits: ``2 3`` stays two
    numbers (it is neither ``23`` nor ``2 * 3``)."""
    return _GAP_RE.sub("", " ".join(text.split()))
