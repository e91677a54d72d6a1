"""Program side of a two-sandbox test run (stdlib only; runs as the sandbox's main program).

Loads the untrusted ``solution.py`` as module ``solution`` and answers the test sandbox's requests
(one JSON line each on fd ``argv[1]``, one reply line each on fd ``argv[2]``): ``get`` a global,
``call`` / ``getattr`` / ``getitem`` / ``list`` / ``len`` / ``bool`` / ``str`` on a value. Replies
carry plain data (``_rs_codec``) or a reference to a value that stays here; a call's reply also
carries the new value of each plain-data argument the call changed in place. The tests, and every
expected value, live only in the other sandbox: nothing this process says can pass a test
except the values the tests ask for.
"""

import os
import sys

import _rs_codec as codec

req = os.fdopen(int(sys.argv[1]), "r", encoding="utf-8")
resp = os.fdopen(int(sys.argv[2]), "w", encoding="utf-8")
refs = {}


def reply(obj):
    resp.write(codec.dumps(obj) + "\n")
    resp.flush()


def wrap(value):
    try:
        return {"v": codec.encode(value)}
    except codec.Unencodable:
        refs[len(refs) + 1] = value
        return {"ref": len(refs), "type": type(value).__name__}
    except RecursionError:
        return {"err": ["RecursionError", "value too deep"]}


def error(exc):
    name = type(exc).__name__ if isinstance(type(exc).__name__, str) else "Exception"
    try:
        msg = str(exc)[:500]
    except BaseException:  # noqa: BLE001 - a hostile __str__
        msg = "<unprintable>"
    return {"err": [name, msg]}


def load():
    with open("solution.py", "rb") as fh:
        src = fh.read()
    try:
        code = compile(src, "solution.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        reply({"ev": "compile_error", "msg": f"{type(exc).__name__}: {exc}"[:500]})
        sys.exit(0)
    mod = type(sys)("solution")
    mod.__file__ = "solution.py"
    sys.modules["solution"] = mod
    sys.stdin = open(os.devnull)
    try:
        exec(code, mod.__dict__)
    except SystemExit as exc:
        reply({"ev": "exited", "code": str(exc.code)[:100]})
        sys.exit(0)
    except BaseException as exc:  # noqa: BLE001
        reply({"ev": "load_error", "exc": error(exc)["err"]})
        sys.exit(0)
    names = {}
    for k, v in list(mod.__dict__.items()):
        if k.startswith("__"):
            continue
        names[k] = "module:" + v.__name__ if isinstance(v, type(sys)) and isinstance(v.__name__, str) else "value"
    reply({"ev": "ready", "names": names})
    return mod


def mutations(sent, out):
    """Add to the reply ``out`` the new value of each plain-data argument the call changed in
    place, as ``"mut": [[index or keyword, value], ...]``: the tests hold their own copy of the
    argument and update it, so a test that an argument was (or was not) changed sees what the
    program did (red-team round 3: a wrong solution that sorted its input in place passed a
    test that the input must not change, and an honest in-place rotate failed)."""
    mut = []
    for key, arg, value in sent:
        if "v" not in arg or type(value) not in (list, dict, set, tuple):
            continue
        try:
            now = codec.encode(value)
        except (codec.Unencodable, RecursionError):
            return {"err": ["TypeError", "the call left a value in an argument that cannot go back to the tests"]}
        if now != arg["v"]:
            mut.append([key, now])
    if mut:
        out["mut"] = mut
    return out


def handle(mod, msg):
    op = msg["op"]
    if op == "get":
        if msg["name"] not in mod.__dict__:
            return {"err": ["NameError", f"name {msg['name']!r} is not defined"]}
        return wrap(mod.__dict__[msg["name"]])
    obj = refs[msg["ref"]]
    if op == "call":
        args = [codec.decode(a["v"]) if "v" in a else refs[a["ref"]] for a in msg["args"]]
        kwargs = {k: (codec.decode(a["v"]) if "v" in a else refs[a["ref"]]) for k, a in msg["kwargs"].items()}
        try:
            out = wrap(obj(*args, **kwargs))
        except SystemExit as exc:
            out = {"err": ["SystemExit", str(exc.code)[:100]]}
        except BaseException as exc:  # noqa: BLE001 - the program's exception is the answer
            out = error(exc)
        sent = [(i, a, args[i]) for i, a in enumerate(msg["args"])] + [(k, a, kwargs[k]) for k, a in msg["kwargs"].items()]
        return mutations(sent, out)
    if op == "getattr":
        return wrap(getattr(obj, msg["name"]))
    if op == "getitem":
        return wrap(obj[codec.decode(msg["key"])])
    if op == "list":
        return wrap(list(obj))
    if op == "len":
        return wrap(int(len(obj)))
    if op == "bool":
        return wrap(bool(obj))
    if op == "str":
        return wrap(str.__str__(str(obj)))
    return {"err": ["ValueError", f"unknown op {op!r}"]}


def main():
    mod = load()
    refs[0] = mod
    for line in req:
        try:
            out = handle(mod, codec.loads(line))
        except SystemExit as exc:
            out = {"err": ["SystemExit", str(exc.code)[:100]]}
        except BaseException as exc:  # noqa: BLE001 - the program's exception is the answer
            out = error(exc)
        reply(out)


main()
