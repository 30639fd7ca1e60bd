"""Strict readings of what clients send: JSON documents and whole numbers.

The standard library's JSON parser accepts more than JSON means to any
consumer: `NaN` and `Infinity`, lone UTF-16 surrogates (`"\\ud800"`, which
no encoder can write back out and PostgreSQL refuses), nesting as deep as
the interpreter's stack, and integers thousands of digits long (which then
fail far from the edge, or raise past 4,300 digits). `loads` refuses all of
them with `JSONRejected`, so that what reaches the rest of the service is
plain data any encoder can write. `whole_number` reads an integer written
in ASCII digits only: `str.isdigit()` and `int()` also take `²` and
the other scripts' digits (Arabic-Indic `\u0661`, Devanagari...).

Used by both HTTP surfaces: the backend's edge and the engine's. Pure: no
I/O and no project imports.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from typing import Any

MAX_DEPTH = 32  # the deepest real body (orders) nests 3 levels
MAX_INTEGER_DIGITS = 19  # the longest a 64-bit integer is written (its range is checked later)
MAX_FLOAT_CHARS = 64

_SURROGATE = re.compile("[\ud800-\udfff]")
_ASCII_DIGITS = re.compile(r"[0-9]+")
_UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


class JSONRejected(ValueError):
    """The body is not JSON the service accepts; the message says why, without echoing it."""


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise JSONRejected(f"an integer has more than {MAX_INTEGER_DIGITS} digits")
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_FLOAT_CHARS:
        raise JSONRejected(f"a number is longer than {MAX_FLOAT_CHARS} characters")
    value = float(text)
    if not math.isfinite(value):
        raise JSONRejected("a number is out of range")
    return value


def _constant(name: str) -> Any:
    raise JSONRejected(f"{name} is not a JSON value")


_DECODER = json.JSONDecoder(parse_int=_integer, parse_float=_float, parse_constant=_constant)


def loads(raw: bytes) -> Any:
    """The JSON document in `raw` (UTF-8), or JSONRejected."""
    try:
        text = raw.decode("utf-8")  # strict: encoded surrogates are not UTF-8 either
    except UnicodeDecodeError:
        raise JSONRejected("the body is not UTF-8") from None
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise JSONRejected(f"the body nests deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as error:
        raise JSONRejected(
            f"malformed JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except JSONRejected:
        raise
    except ValueError:  # the interpreter's own integer limit, should _integer ever allow it
        raise JSONRejected("a number is too large") from None
    # Only a \u escape can give a surrogate once the text is valid UTF-8, and
    # only as many levels as there are brackets: most bodies skip the walk.
    escapes = "\\u" in text
    if escapes or text.count("[") + text.count("{") > MAX_DEPTH:
        _walk(value, escapes)
    return value


def _walk(value: Any, escapes: bool) -> None:
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        current, depth = pending.pop()
        if isinstance(current, str):
            if escapes and _SURROGATE.search(current):
                raise JSONRejected("a string holds a lone UTF-16 surrogate")
        elif isinstance(current, dict | list):
            if depth > MAX_DEPTH:
                raise JSONRejected(f"the body nests deeper than {MAX_DEPTH} levels")
            if isinstance(current, dict):
                pending.extend((key, depth) for key in current)
                pending.extend((item, depth + 1) for item in current.values())
            else:
                pending.extend((item, depth + 1) for item in current)


def whole_number(raw: str, *, max_digits: int = 9) -> int | None:
    """`raw` as a non-negative integer written in ASCII digits, or None."""
    if len(raw) > max_digits or not _ASCII_DIGITS.fullmatch(raw):
        return None
    return int(raw)


def canonical_uuid(raw: str) -> uuid.UUID | None:
    """A UUID in the one form openapi.yaml's `format: uuid` names (8-4-4-4-12 hex digits,
    either case), or None. `uuid.UUID()` alone also takes `urn:uuid:…`, braces and no
    hyphens: accepting those would let a client's id differ from the one echoed back."""
    return uuid.UUID(raw) if _UUID.fullmatch(raw) else None
