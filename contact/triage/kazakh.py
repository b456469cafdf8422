"""A small Kazakh stemmer, guided by the lexicon: it strips inflection (verb person, tense,
negation and voice endings; noun case, possessive and plural endings) so that `мылтықпен`,
`пышағын`, `өртеніп`, `ұрланды` meet the lexicon's stems `мылтық`, `пышақ`, `өртен`, `ұрла`.

There is no Kazakh stemmer in the package registries, and greedy suffix stripping of an
agglutinative language is ambiguous (`ұрлады` is `ұрла+ды` "stole", `-ады` is also a present
ending; `ұрланды` must not become `ұр` "hit"), so this one does not guess a single stem:
`candidates` lists every stem reachable by stripping endings in their grammatical order, and
`stem_for` takes the longest candidate the lexicon knows (a dictionary-lookup stemmer). A word
with no known candidate keeps its folded self and matches nothing.

1. `fold`: lower case, and the nine Kazakh letters folded to the Russian keyboard letters
   citizens type instead (ә→а ғ→г қ→к ң→н ө→о ұ→у ү→у һ→х і→и), so `пышак` meets `пышақ`;
   lexicon stems are folded the same way.
2. verb endings, outermost first: an optional person ending (`-мын -сың -мыз -сыз`, after the
   past `-м -ң -қ`), one tense/aspect suffix (past `-ды/-ты`, participles `-ған/-қан/-ген/-кен`,
   converbs `-ып/-іп/-п`, present `-а/-е/-й` + `-ды`, `-атын`), then either a negation
   (`-ма/-ба/-па` and front variants: the word is marked negated) or a voice suffix (passive
   `-ыл/-іл/-л`, `-ын/-ін/-н`).
3. noun endings on the word and on each verb stem, outermost first: one case suffix (genitive,
   dative, accusative, locative, ablative, instrumental, in every harmony and assimilation
   variant), one possessive, one plural; each optional.
4. a final `г`/`б` (voiced before a vowel ending: `пышағы`, `мылтығын`) also gives `к`/`п`.

A strip only happens when the stem left has at least two letters and a vowel. Derivational
suffixes (`-ла` of `ұрла`, `-шы`, `-лық`) are never stripped: a derived word is its own stem.
"""

from __future__ import annotations

FOLD = str.maketrans("әғқңөұүһі", "агкноуухи")
VOWELS = frozenset("аеиоуыэюяё")


def _variants(*suffixes: str) -> tuple[str, ...]:
    """Folded, unique, longest first (a longer ending wins over its own tail)."""
    folded = {s.translate(FOLD) for s in suffixes}
    return tuple(sorted(folded, key=len, reverse=True))


# person endings (on verbs and predicates), outermost
PERSON = _variants(
    "мын", "мін", "бын", "бін", "пын", "пін",  # 1sg
    "сың", "сің", "сыз", "сіз", "сыңдар", "сіңдер", "сыздар", "сіздер",  # 2
    "мыз", "міз", "быз", "біз", "пыз", "піз",  # 1pl
    "ңыз", "ңіз", "ңдар", "ңдер",  # 2 after past -ды-
    "м", "ң", "қ", "к",  # after past -ды-: ұрдым, ұрдың, ұрдық
)  # fmt: skip
TENSE = _variants(
    "ды", "ді", "ты", "ті",  # past
    "ған", "ген", "қан", "кен",  # past participle
    "ғалы", "гелі", "қалы", "келі",  # purpose
    "атын", "етін", "йтын", "йтін",  # habitual participle
    "ады", "еді", "йды", "йді",  # present / future 3rd person
    "ып", "іп", "ап", "еп", "йп",  # converb (-п after a vowel is kept in -ап/-еп/-йп)
    "уда", "уде", "ушы", "уші",  # verbal noun in progress, agent
    "п", "й", "а", "е", "у",  # converb after a vowel, present converb, verbal noun
)  # fmt: skip
PARTICIPLE = _variants("ған", "ген", "қан", "кен")
NEGATION_SUFFIXES = _variants("ма", "ме", "ба", "бе", "па", "пе")
VOICE = _variants("ыл", "іл", "ын", "ін", "л", "н")
CASE = _variants(
    "ның", "нің", "дың", "дің", "тың", "тің",  # genitive
    "ға", "ге", "қа", "ке", "на", "не",  # dative (-а/-е after a possessive is left: бал+а)
    "ны", "ні", "ды", "ді", "ты", "ті", "н",  # accusative (-н after a possessive)
    "да", "де", "та", "те", "нда", "нде",  # locative
    "дан", "ден", "тан", "тен", "нан", "нен",  # ablative
    "мен", "бен", "пен", "ымен", "імен", "менен", "бенен", "пенен",  # instrumental
    "дағы", "дегі", "тағы", "тегі", "ндағы", "ндегі",  # locative adjective
)  # fmt: skip
POSSESSIVE = _variants(
    "ым", "ім", "м", "ың", "ің", "ң", "ы", "і", "сы", "сі",
    "ымыз", "іміз", "мыз", "міз", "ыңыз", "іңіз", "ңыз", "ңіз", "ыңдар", "іңдер",
)  # fmt: skip
PLURAL = _variants("лар", "лер", "дар", "дер", "тар", "тер")
DEVOICE = {"г": "к", "б": "п"}
# Common words whose endings only look like inflection: үлкен "big" is not ұл "son" + -кен.
UNSTRIPPED = frozenset(w.translate(FOLD) for w in ("үлкен", "кейін", "бірге", "дейін"))


def fold(word: str) -> str:
    return word.lower().translate(FOLD)


def _can_keep(stem: str) -> bool:
    return len(stem) >= 2 and any(ch in VOWELS for ch in stem)


def _fits(stem: str, suffix: str) -> bool:
    """A one-consonant ending follows a vowel (бала-м, ұрла-п), a one-vowel ending a
    consonant (пышағ-ы): `ұрм+ады` is no reading of `ұрмады`, `ұр+ма+ды` is."""
    if not _can_keep(stem):
        return False
    if suffix == "у":  # the verbal noun: ұрла-у, келтір-у
        return True
    if len(suffix) == 1:  # у after a vowel is a consonant (қару-ы)
        return (stem[-1] in VOWELS and stem[-1] != "у") != (suffix in VOWELS)
    return True


def _strip_all(word: str, suffixes: tuple[str, ...]) -> list[str]:
    return [word[: -len(s)] for s in suffixes if word.endswith(s) and _fits(word[: -len(s)], s)]


def candidates(word: str) -> dict[str, bool]:
    """Every stem of a word reachable by stripping endings, each with whether a verb
    negation was stripped on the way there. The folded word itself is always one."""
    folded = fold(word)
    out: dict[str, bool] = {folded: False}
    if folded in UNSTRIPPED:
        return out

    def add(stem: str, negated: bool) -> None:
        if stem not in out or (out[stem] and not negated):
            out[stem] = negated

    for inflected in (folded, *_strip_all(folded, PERSON)):
        for verb in _strip_all(inflected, TENSE):
            add(verb, False)
            for positive in _strip_all(verb, NEGATION_SUFFIXES):
                add(positive, True)
            for active in _strip_all(verb, VOICE):
                add(active, False)
    for base, negated in list(out.items()):
        for cased in (base, *_strip_all(base, CASE)):
            for owned in (cased, *_strip_all(cased, POSSESSIVE)):
                for single in (owned, *_strip_all(owned, PLURAL)):
                    add(single, negated)
    for base, negated in list(out.items()):  # a participle or verbal noun as a noun
        for verb in _strip_all(base, PARTICIPLE) + _strip_all(base, ("у",)):
            add(verb, negated)
    for stem, negated in list(out.items()):
        if stem[-1] in DEVOICE and stem != folded:
            add(stem[:-1] + DEVOICE[stem[-1]], negated)
    return out


def stem_for(word: str, known: frozenset[str] | set[str]) -> tuple[str, bool]:
    """(the longest stem of `word` in `known`, negated?); no known stem: (folded word, False).
    A positive reading wins over a negated one of the same length."""
    best: tuple[int, int, str, bool] | None = None
    for stem, negated in candidates(word).items():
        if stem in known:
            rank = (len(stem), 0 if negated else 1)
            if best is None or rank > best[:2]:
                best = (*rank, stem, negated)
    if best is None:
        return fold(word), False
    return best[2], best[3]


def heads(known: frozenset[str] | set[str]) -> frozenset[str]:
    """What a word that can meet one of `known` starts with: a stem, or a stem whose final
    к/п is voiced before an ending (пышағы). `may_meet` checks a word against it cheaply."""
    out = set(known)
    for stem in known:
        for plain, voiced in (("к", "г"), ("п", "б")):
            if stem.endswith(plain):
                out.add(stem[:-1] + voiced)
    return frozenset(out)


def may_meet(word: str, starts: frozenset[str]) -> bool:
    """Whether stripping endings could turn this folded word into a known stem: only a word
    beginning with one can (endings are only ever stripped from the end)."""
    return any(word[:n] in starts for n in range(2, len(word) + 1))
