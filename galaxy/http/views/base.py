"""What every view shares: JSON-ready values and the rendering of a view."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # A view: a frozen dataclass of JSON-ready values (text, numbers, booleans,
    # None, lists and other views).
    from _typeshed import DataclassInstance as View


def to_json(view: View) -> dict[str, object]:
    """The view as the JSON object the surface answers (nested views too)."""
    return dataclasses.asdict(view)


def text_id(value: uuid.UUID) -> str:
    return str(value)


def maybe_text_id(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def time(value: datetime) -> str:
    return value.isoformat()


def maybe_time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
