"""Russian lemmas (pymorphy3 with its Russian dictionary): `пистолетом`, `ножа`, `заложников`
are `пистолет`, `нож`, `заложник`. A parse costs ~0.2 ms, so each distinct word is analysed
once (an LRU cache per Lemmatiser); citizens' messages repeat few words."""

from __future__ import annotations

from functools import cache, lru_cache

import pymorphy3

CACHE_WORDS = 65_536


@cache
def _analyzer() -> pymorphy3.MorphAnalyzer:
    """One per process: its dictionaries (~15 MB) load in ~0.3 s and are read-only."""
    return pymorphy3.MorphAnalyzer(lang="ru")


class Lemmatiser:
    def __init__(self, cache_words: int = CACHE_WORDS) -> None:
        self._morph = _analyzer()
        self.lemma = lru_cache(maxsize=cache_words)(self._lemma)

    def forms(self, word: str) -> set[str]:
        """Every form of the word's most likely lexeme (`ребёнок`: `дети`, `детьми` …)."""
        parses = self._morph.parse(word)
        if not parses:
            return {word}
        return {p.word.replace("ё", "е") for p in parses[0].lexeme} | {word}

    def _lemma(self, word: str) -> str:
        """The most likely normal form of a lower-case Cyrillic word, `ё` as `е`."""
        parses = self._morph.parse(word)
        return parses[0].normal_form.replace("ё", "е") if parses else word
