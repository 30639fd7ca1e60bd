"""A LibreTranslate-compatible translator (`POST {url}/translate`), over httpx on trio."""

from __future__ import annotations

import httpx


class TranslationFailed(Exception):
    """The translator did not answer, or not with a translation."""


class Translator:
    def __init__(self, base_url: str, *, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout)

    async def translate(self, text: str, source: str, target: str) -> str:
        if not text:
            return text
        body = {"q": text, "source": source, "target": target, "format": "text"}
        try:
            response = await self._http.post("/translate", json=body)
        except httpx.HTTPError as error:
            raise TranslationFailed(f"the translator is unreachable: {error!r}") from None
        if response.status_code != 200:
            raise TranslationFailed(f"the translator answered {response.status_code}")
        try:
            translated = response.json()["translatedText"]
        except (ValueError, KeyError, TypeError):
            raise TranslationFailed("the translator's answer has no translatedText") from None
        if not isinstance(translated, str):
            raise TranslationFailed("translatedText is not text")
        return translated

    async def aclose(self) -> None:
        await self._http.aclose()
