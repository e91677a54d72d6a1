"""File I/O at the edges: atomic writes and rollout tables (JSONL, Parquet, in-memory rows).

Every file rewardsmith writes goes through ``atomic_write_*``: the data is written to a temporary
file in the same directory, flushed and fsynced, then moved over the target with ``os.replace``,
so a reader (or a crash) never sees a half-written file.
"""

from __future__ import annotations

import datetime
import decimal
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "read_rows",
    "write_rows",
    "table_format",
]


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same dir + fsync + os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically. Surrogates (bytes that were not UTF-8, read
    with ``surrogateescape``) go back as those bytes; a lone surrogate that came in as a JSON
    ``\\ud800`` escape goes out as that escape."""
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        data = text.encode("utf-8", "backslashreplace")
    return atomic_write_bytes(path, data)


def _json_default(obj: Any) -> Any:
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a core dependency
        np = None
    if np is not None:
        if isinstance(obj, np.integer):
            return int(obj)
        if isinstance(obj, np.floating):
            return float(obj)
        if isinstance(obj, np.bool_):
            return bool(obj)
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (datetime.date, datetime.time)):  # Parquet date/timestamp columns
        return obj.isoformat()
    if isinstance(obj, decimal.Decimal):
        return str(obj)
    if isinstance(obj, (bytes, bytearray)):
        return bytes(obj).decode("utf-8", "backslashreplace")
    raise TypeError(f"cannot serialize {type(obj).__name__} to JSON")


def _nan_to_none(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_nan_to_none(v) for v in obj]
    return obj


def dumps_json(obj: Any, indent: int | None = None) -> str:
    """JSON text with numpy scalars/arrays converted and NaN/inf written as ``null``."""
    return json.dumps(
        _nan_to_none(json.loads(json.dumps(obj, default=_json_default, allow_nan=True))),
        indent=indent,
        allow_nan=False,
        ensure_ascii=False,
    )


def atomic_write_json(path: str | os.PathLike[str], obj: Any, indent: int = 2) -> Path:
    """Write ``obj`` as JSON atomically (numpy values converted, NaN written as null)."""
    return atomic_write_text(path, dumps_json(obj, indent=indent) + "\n")


def read_json(path: str | os.PathLike[str], missing: str) -> Any:
    """Parse the JSON file ``path``; ValueError naming the file when it is absent (``missing``
    says what was expected there) or not valid JSON."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path.parent}: {path.name} is missing; expected {missing}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: invalid JSON ({exc.msg})") from None


def table_format(path: str | os.PathLike[str]) -> str:
    """``"jsonl"`` or ``"parquet"`` from the file name; ValueError for anything else."""
    name = str(path).lower()
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    raise ValueError(
        f"path: cannot tell the table format of {str(path)!r}; expected a name ending in "
        ".jsonl, .ndjson, .json, .parquet or .pq"
    )


def read_rows(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a JSONL or Parquet table into a list of row dicts.

    A malformed JSONL line raises ValueError naming the file and the line number.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"input: file {str(path)!r} does not exist")
    fmt = table_format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    rows: list[dict[str, Any]] = []
    with path.open("r", encoding="utf-8", errors="surrogateescape") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from None
            except RecursionError:
                raise ValueError(f"{path}:{lineno}: invalid JSON (nested too deep)") from None
            if not isinstance(row, dict):
                raise ValueError(
                    f"{path}:{lineno}: expected a JSON object per line, got {type(row).__name__}"
                )
            rows.append(row)
    return rows


def write_rows(path: str | os.PathLike[str], rows: Iterable[dict[str, Any]]) -> Path:
    """Write row dicts as JSONL or Parquet (by file name), atomically."""
    rows = list(rows)
    fmt = table_format(path)
    if fmt == "jsonl":
        return atomic_write_text(path, "".join(dumps_json(r) + "\n" for r in rows))
    import io as _io

    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = _io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    return atomic_write_bytes(path, buf.getvalue())


def refuse_yaml_aliases(text: str, path: str | os.PathLike[str], what: str, hint: str) -> None:
    """Raise ValueError at the first YAML alias in ``text``: a few hundred bytes of anchors of
    anchors ("billion laughs") expand to GBs in every later copy or repr of the data (red-teamed:
    41 s, then MemoryError). ``what`` names the kind of file, ``hint`` what to write instead."""
    import yaml

    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            raise ValueError(f"{path}: line {event.start_mark.line + 1}: YAML aliases (*{event.anchor}) are not "
                             f"allowed in a {what}; {hint}")
