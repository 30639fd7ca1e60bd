"""What every view shares: JSON-ready values and the rendering of a view."""

from __future__ import annotations

import copy
import dataclasses
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    # A view: a frozen dataclass of JSON-ready values (text, numbers, booleans,
    # None, lists and other views).
    from _typeshed import DataclassInstance as View


def to_json(view: View) -> dict[str, object]:
    """The view as the JSON object the surface answers (nested views too).

    What `dataclasses.asdict` gives, for a third of its cost (the account read
    spent 15 µs here): asdict deep-copies every leaf through `copy.deepcopy`,
    though a view's leaves are immutable scalars, and looks each class's fields
    up anew; here the scalars pass as they are and the field names are kept
    per class. Containers are rebuilt as asdict rebuilds them.
    """
    return cast(dict[str, object], _json_value(view))


_SCALARS = frozenset({str, int, float, bool, type(None)})
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # per view class, filled on first use


def _json_value(value: object) -> object:
    kind = type(value)
    if kind in _SCALARS:
        return value
    names = _FIELD_NAMES.get(kind)
    if names is None and dataclasses.is_dataclass(kind):
        names = _FIELD_NAMES[kind] = tuple(field.name for field in dataclasses.fields(kind))
    if names is not None:
        return {name: _json_value(getattr(value, name)) for name in names}
    if isinstance(value, tuple) and hasattr(value, "_make"):  # a named tuple, as asdict
        return value._make(_json_value(item) for item in value)
    if isinstance(value, list | tuple):
        return type(value)(_json_value(item) for item in value)
    if isinstance(value, dict):
        return type(value)((_json_value(key), _json_value(item)) for key, item in value.items())
    return copy.deepcopy(value)  # as asdict: anything else is copied, not shared


def text_id(value: uuid.UUID) -> str:
    return str(value)


def maybe_text_id(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def time(value: datetime) -> str:
    return value.isoformat()


def maybe_time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
