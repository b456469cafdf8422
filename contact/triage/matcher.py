"""TextTriage: one lexicon compiled into one Aho-Corasick automaton, and the analysis of a
text (a chat message, a report, a transcript segment) into lexicon hits and a Verdict.

A text becomes two streams of keys, one per word: Russian lemmas and Kazakh stems
(" пожар в подъезд | пожар в подъезде "), and the automaton finds every term (" пожар ",
" ес тан ") at word boundaries in one pass; a Russian term only counts in the lemma stream,
a Kazakh one in the stem stream, so a mixed message meets both. Each distinct word is keyed
once (a bounded dict), which keeps the matcher far below a millisecond per message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from operator import itemgetter

import ahocorasick

from contact.domain.triage import NOTHING, Hit, Verdict, decide
from contact.triage.kazakh import FOLD, fold, heads, may_meet, stem_for
from contact.triage.lexicon import Entry
from contact.triage.russian import Lemmatiser
from contact.triage.text import LATIN, latin_to_cyrillic

TOKEN = re.compile(r"[^\W\d_]+|[.,;:!?\n()]")
CLAUSE_MARKS = frozenset(".,;:!?\n()")
KAZAKH_LETTERS = frozenset("әғқңөұүһі")
# Negation: a term right after one of these, or followed within two words of its clause by
# one of AFTER (or by "не" + a form of "быть": "ножа не было"), counts for nothing.
BEFORE = frozenset({"не", "нет", "ни", "без"})
AFTER = frozenset({"нет", "жок", "емес"})
WAS = frozenset({"был", "была", "было", "были"})
CACHE_WORDS = 65_536
RU_HEAD = 3  # letters of a word compared with the lexicon's forms before lemmatising it


class TextTriage:
    def __init__(self, entries: Iterable[Entry], lemmatiser: Lemmatiser) -> None:
        self.entries = tuple(entries)
        self._lemma = lemmatiser.lemma
        kk_terms = [e for e in self.entries if e.lang == "kk"]
        self._known_kk = frozenset(
            w.translate(FOLD) for e in kk_terms for w in e.term.split()
        ) | frozenset(AFTER)
        self._kk_heads = heads(self._known_kk)
        # Only a word that starts like some form of a lexicon lemma can have that lemma:
        # the rest skip pymorphy3 (~0.1 ms a new word). The forms cover suppletion (дети).
        self._ru_heads = frozenset(
            form[:RU_HEAD]
            for e in self.entries
            if e.lang == "ru"
            for w in e.term.split()
            for form in lemmatiser.forms(w)
        )
        patterns: dict[str, list[Entry]] = {}
        for e in self.entries:
            if e.lang == "ru":
                key = " ".join(self._lemma(w) for w in e.term.split())
            else:
                key = " ".join(fold(w) for w in e.term.split())
            patterns.setdefault(f" {key} ", []).append(e)
        self._automaton = ahocorasick.Automaton()
        for pattern, found in patterns.items():
            # (length, words in the pattern - 1, entries)
            self._automaton.add_word(pattern, (len(pattern), pattern.count(" ") - 2, tuple(found)))
        if patterns:
            self._automaton.make_automaton()
        self._empty = not patterns
        self._keys: dict[str, tuple[str, str, str, bool]] = {}

    def key(self, token: str) -> tuple[str, str, str, bool]:
        """(the word as read, its Russian lemma, its Kazakh stem, whether that stem is a
        negated verb), once per distinct word: a dict bounded by CACHE_WORDS."""
        known = self._keys.get(token)
        if known is not None:
            return known
        if token in CLAUSE_MARKS:
            known = self._keys[token] = (token, token, token, False)
            return known
        word = latin_to_cyrillic(token) if LATIN.fullmatch(token) else token
        if KAZAKH_LETTERS.intersection(word) or word[:RU_HEAD] not in self._ru_heads:
            lemma = word
        else:
            lemma = self._lemma(word)
        folded = fold(word)
        if may_meet(folded, self._kk_heads):
            stem, negated = stem_for(word, self._known_kk)
        else:
            stem, negated = folded, False
        if len(self._keys) >= CACHE_WORDS:
            self._keys.clear()  # a flood of new words: start over rather than grow
        known = self._keys[token] = (word, lemma, stem, negated)
        return known

    def hits(self, text: str) -> list[Hit]:
        if self._empty:
            return []
        tokens = TOKEN.findall(text.lower().replace("ё", "е"))
        if not tokens:
            return []
        cache = self._keys
        # a clause mark is a word of its own in both streams: no phrase spans it
        keys = [cache.get(t) or self.key(t) for t in tokens]
        haystack = f" {' '.join(map(_LEMMA, keys))} | {' '.join(map(_STEM, keys))} "
        found = self._automaton.iter(haystack)
        out: list[Hit] = []
        n = len(keys)
        for end, (length, more, entries) in found:
            # the n-th space opens word n-1 of " ru… | kk… " (the bar counts as word n)
            first = haystack.count(" ", 0, end - length + 2) - 1
            stream = "ru"
            if first > n:
                stream, first = "kk", first - n - 1
            last = first + more
            negated = _negated(keys, first, last)
            if not negated and stream == "kk":
                negated = any(k[3] for k in keys[first : last + 1])
            said = " ".join(tokens[first : last + 1])
            for e in entries:
                if e.lang == stream:
                    out.append(Hit(e.term, e.category, e.weight, said, negated, (first, last)))
        return out

    def analyse(self, text: str) -> Verdict:
        found = self.hits(text)
        return decide(found) if found else NOTHING


_LEMMA = itemgetter(1)
_STEM = itemgetter(2)


def _negated(keys: list[tuple[str, str, str, bool]], i: int, j: int) -> bool:
    if i > 0 and keys[i - 1][0] in BEFORE:
        return True
    for t in range(j + 1, min(j + 3, len(keys))):
        word = keys[t][0]
        if word in CLAUSE_MARKS:
            break
        if word in AFTER or keys[t][2] in AFTER:
            return True
        if word == "не" and t + 1 < len(keys) and keys[t + 1][0] in WAS:
            return True
    return False
