"""The console's files: what the page loads is what the whitelist serves, and no file
parses data as HTML or runs inline code (the browser tests show the behaviour; this
keeps a later edit from slipping an `innerHTML` into a path they do not take)."""

from __future__ import annotations

import re
from importlib import resources

from galaxy.http.console import ASSETS

PAGE = resources.files("galaxy.http").joinpath("console.html").read_text("utf-8")
PREFIX = "/api/v1/admin/console/assets/"
# Ways to turn a string into markup or code.
UNSAFE = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function")


def test_the_page_loads_exactly_the_whitelisted_files_and_nothing_inline() -> None:
    loaded = re.findall(r'(?:src|href)="([^"]+)"', PAGE)
    assets = [url.removeprefix(PREFIX) for url in loaded if url.startswith(PREFIX)]
    assert sorted(assets) == sorted(ASSETS)
    assert re.findall(r"<script(?![^>]*\bsrc=)", PAGE) == []  # every script is a file
    assert "<style" not in PAGE and " style=" not in PAGE
    assert re.findall(r"\son[a-z]+=", PAGE) == []  # no inline event handlers


def test_every_file_ships_and_none_makes_markup_from_strings() -> None:
    for name, content_type in ASSETS.items():
        text = resources.files("galaxy.http").joinpath(name).read_text("utf-8")
        assert text.strip(), name
        assert content_type.startswith("text/css" if name.endswith(".css") else "text/javascript")
        if name.endswith(".js"):
            assert UNSAFE.search(text) is None, (name, UNSAFE.search(text))
            assert text.startswith('"use strict";'), name
