"""Plain-data codec for values crossing between sandboxes (stdlib only, copied into each sandbox).

Only plain data crosses: None, bool, int, float, str, bytes, complex, list, tuple, dict, set,
frozenset, nested to ``MAX_DEPTH``. Exact types are read through the base type's own slots
(``int.__index__``, ``float.__float__``, ``list.__iter__``...), so an object that overrides
``__eq__``/``__repr__``/``__iter__`` cannot lie about its value: whatever it is, only the value
crosses. Anything else stays behind as a reference. Decoding never evaluates anything.
"""

import json

MAX_DEPTH = 64
MAX_ITEMS = 1_000_000


class Unencodable(Exception):
    pass


def encode(x, _depth=0, _budget=None):
    if _budget is None:
        _budget = [MAX_ITEMS]
    _budget[0] -= 1
    if _budget[0] < 0 or _depth > MAX_DEPTH:
        raise Unencodable("value too large or too deep")
    t = type(x)
    if x is None or t is bool:
        return x
    if t is str:
        return x
    if isinstance(x, bool):
        return bool(x)
    if isinstance(x, int):
        v = int.__index__(x)
        return v if -(2 ** 53) < v < 2 ** 53 else {"$int": str(v)}
    if isinstance(x, float):
        v = float.__float__(x)
        return v if v == v and v not in (float("inf"), float("-inf")) else {"$float": repr(v)}
    if isinstance(x, str):
        return str.__str__(x)
    if isinstance(x, (bytes, bytearray)):
        return {"$bytes": bytes(x).hex()}
    if isinstance(x, complex):
        c = complex.__complex__(x) if hasattr(complex, "__complex__") else complex(x.real, x.imag)
        return {"$complex": [encode(c.real), encode(c.imag)]}
    d = _depth + 1
    if isinstance(x, list):
        return [encode(i, d, _budget) for i in list.__iter__(x)]
    if isinstance(x, tuple):
        return {"$tuple": [encode(i, d, _budget) for i in tuple.__iter__(x)]}
    if isinstance(x, dict):
        return {"$dict": [[encode(k, d, _budget), encode(v, d, _budget)] for k, v in dict.items(x)]}
    if isinstance(x, frozenset):
        return {"$fset": [encode(i, d, _budget) for i in frozenset.__iter__(x)]}
    if isinstance(x, set):
        return {"$set": [encode(i, d, _budget) for i in set.__iter__(x)]}
    item = getattr(type(x), "item", None)
    if item is not None and type(x).__module__ == "numpy":
        return encode(x.item(), _depth, _budget)
    tolist = getattr(type(x), "tolist", None)
    if tolist is not None and type(x).__module__ == "numpy":
        return encode(x.tolist(), _depth, _budget)
    raise Unencodable(type(x).__name__)


def decode(x, _depth=0):
    if _depth > MAX_DEPTH + 2:
        raise ValueError("too deep")
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    d = _depth + 1
    if isinstance(x, list):
        return [decode(i, d) for i in x]
    if isinstance(x, dict) and len(x) == 1:
        (tag, v), = x.items()
        if tag == "$int":
            return int(v)
        if tag == "$float":
            return float(v)
        if tag == "$bytes":
            return bytes.fromhex(v)
        if tag == "$complex":
            return complex(decode(v[0], d), decode(v[1], d))
        if tag == "$tuple":
            return tuple(decode(i, d) for i in v)
        if tag == "$dict":
            return {decode(k, d): decode(val, d) for k, val in v}
        if tag == "$set":
            return {decode(i, d) for i in v}
        if tag == "$fset":
            return frozenset(decode(i, d) for i in v)
    raise ValueError(f"not an encoded value: {str(x)[:80]}")


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


def loads(line):
    return json.loads(line)
