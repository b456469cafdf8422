"""Words out of a citizen's text: one tokeniser for chat, report text and transcripts.

Lower case, `ё` as `е`, letters only (digits, punctuation and hyphens split words: `Батыс-2`
is `батыс`), and a word written in Latin letters is read as Latin-script Kazakh and spelt in
Cyrillic (folded: the Kazakh letters as the Russian keyboard types them, see kazakh.fold), so
`myltyqpen`, `pyshaq`, `zhol apaty` meet the same lexicon as `мылтықпен`, `пышақ`, `жол апаты`.
"""

from __future__ import annotations

import re

WORD = re.compile(r"[^\W\d_]+")
LATIN = re.compile(r"[a-zäöüūıñğşçáóúýíéḱ]+")

# Latin-script Kazakh as written in chats (informal, 2018 and 2021 alphabets) → folded Cyrillic.
# Digraphs first. q→к and gh→г because қ/ғ fold to к/г anyway.
_DIGRAPHS = (("sh", "ш"), ("ch", "ч"), ("zh", "ж"), ("gh", "г"), ("ng", "н"), ("kh", "х"),
             ("ts", "ц"), ("ia", "я"), ("iu", "ю"), ("ya", "я"), ("yu", "ю"))  # fmt: skip
_LETTERS = str.maketrans(
    {
        "a": "а", "ä": "а", "á": "а", "b": "б", "c": "с", "ç": "ч", "d": "д", "e": "е",
        "é": "е", "f": "ф", "g": "г", "ğ": "г", "h": "х", "i": "и", "í": "и", "ı": "ы",
        "j": "ж", "k": "к", "ḱ": "к", "l": "л", "m": "м", "n": "н", "ñ": "н", "o": "о",
        "ö": "о", "ó": "о", "p": "п", "q": "к", "r": "р", "s": "с", "ş": "ш", "t": "т",
        "u": "у", "ü": "у", "ū": "у", "ú": "у", "v": "в", "w": "у", "x": "х", "y": "ы",
        "ý": "у", "z": "з",
    }
)  # fmt: skip


_GLIDE = re.compile(r"(?<=[аеоуы])и(?![аеоуыи])")  # qai, uide: i after a vowel is й


def latin_to_cyrillic(word: str) -> str:
    for latin, cyrillic in _DIGRAPHS:
        word = word.replace(latin, cyrillic)
    return _GLIDE.sub("й", word.translate(_LETTERS))


def words(text: str) -> list[str]:
    out = WORD.findall(text.lower().replace("ё", "е"))
    return [latin_to_cyrillic(w) if LATIN.fullmatch(w) else w for w in out]
