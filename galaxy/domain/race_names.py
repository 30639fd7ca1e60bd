"""Race names: what a name may look like, and the canonical key that makes look-alikes collide.

The key is the UTS 39 confusable skeleton (NFD, each character replaced by its
prototype from Unicode's confusables.txt, NFD again), made case-blind and
repeated until it no longer changes. So `Vogon`, `VOGON`, `V\u043egon` (a
Cyrillic o) and `V0gon` (a zero) share one key, and a name can be held by one
player only, whichever of its looks they chose.

The skeleton must see the capitals: confusables.txt maps a capital I to l,
while nothing maps the small i, so folding case first let `CaroIingians`
pass as a name of its own beside `Carolingians`. Each round therefore takes
the skeleton of the upper-case form, folds case, and takes the skeleton of
the small letters (`rn` looks like `m`). Case-blindness and look-alikeness
together then make i and l one letter of the key (`KLINGON` is `klingon`,
and its I is an l): a stricter directory than either rule alone, which is
the safe side for names that players use to tell each other apart.
"""

from __future__ import annotations

import functools
import unicodedata
from importlib import resources

from galaxy.domain.errors import InvalidInput

NAME_MIN = 2
NAME_MAX = 32
_PUNCTUATION = frozenset(" -'")


@functools.cache
def _prototypes() -> dict[str, str]:
    """Unicode's confusables.txt (galaxy/domain/data): source character → prototype."""
    mapping: dict[str, str] = {}
    text = resources.files("galaxy.domain").joinpath("data/confusables.txt").read_text("utf-8-sig")
    for line in text.splitlines():
        data = line.split("#", 1)[0].strip()
        if not data:
            continue
        source, target, *_ = (field.strip() for field in data.split(";"))
        if " " in source:
            continue  # the file maps single characters only; be safe
        mapping[chr(int(source, 16))] = "".join(chr(int(code, 16)) for code in target.split())
    return mapping


def skeleton(text: str) -> str:
    """UTS 39 skeleton: NFD, map every character to its prototype, NFD."""
    prototypes = _prototypes()
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFD", "".join(prototypes.get(ch, ch) for ch in decomposed))


def canonical(name: str) -> str:
    """The directory key of `name`: equal keys are names that look or read alike."""
    key = unicodedata.normalize("NFKC", name)
    for _ in range(8):  # folding and mapping settle within a few rounds
        capitals = unicodedata.normalize("NFKC", skeleton(key.upper())).casefold()
        following = unicodedata.normalize("NFKC", skeleton(capitals)).casefold()
        following = " ".join(following.split())
        if following == key:
            break
        key = following
    return key


def check_race_name(raw: object) -> str:
    """2 to 32 letters, marks, digits, spaces, hyphens and apostrophes, NFC-normalised."""
    if not isinstance(raw, str):
        raise InvalidInput("race_name is required", code="invalid_race_name")
    name = unicodedata.normalize("NFC", raw)
    problem = None
    if not NAME_MIN <= len(name) <= NAME_MAX:
        problem = f"must be {NAME_MIN} to {NAME_MAX} characters"
    elif name != name.strip() or "  " in name:
        problem = "must not start or end with a space or hold two spaces in a row"
    elif any(not (ch in _PUNCTUATION or unicodedata.category(ch)[0] in "LMN") for ch in name):
        problem = "may hold letters, digits, spaces, - and ' only"
    elif not any(ch.isalpha() for ch in name):
        problem = "needs at least one letter"
    if problem:
        raise InvalidInput(f"race_name {problem}", code="invalid_race_name")
    return name
