"""Text and path normalisation for matching a player's tracks to Plex's: the same song, written two ways, one key.

Titles and album titles split into a *base* (the words that name the song) and *version tags* read from bracketed
or `` - `` suffixed descriptors: **hard** tags name a different recording ("Live", "Demo", "Remix", "Radio Edit",
"Instrumental", "Acoustic", "Alternate Take") and must agree for a match; **soft** tags name the same recording
re-issued ("Remastered 2011", "Deluxe Edition", "Explicit") and only rank candidates. Featured-artist credits
("feat.", "ft.", "featuring", in brackets or not) are dropped from titles and split off artists, because taggers
put them in either place. Folding removes case, diacritics, punctuation, and writes "&" as "and".

Paths are compared after Unicode NFC, ``\\`` → ``/`` and, for sources on case-insensitive file systems (Windows
drive and UNC paths, macOS ``/Users`` and ``/Volumes``), case folding.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "TitleKey",
    "artist_keys",
    "file_name",
    "fold",
    "is_case_insensitive_path",
    "normalize_path",
    "path_key",
    "title_key",
    "title_stem",
]

#: Letters NFKD does not decompose into a base letter plus marks.
_LETTERS = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i", "ħ": "h", "ŧ": "t"}
)
_NON_WORD = re.compile(r"[\W_]+")
#: Characters deleted without leaving a word break: "O.R.E." is "ore", "Don't" is "dont".
_JOINERS = ".'’‘`´"
#: Where a title's first words end: a bracket, a " - " suffix or a featured-artist credit.
_STEM_END = re.compile(r"\s[(\[{]|\s-\s|\s(?:feat|ft|featuring)\.?\s", re.IGNORECASE)
#: A bracketed group with no brackets inside.
_GROUP = re.compile(r"[(\[{]([^()\[\]{}]*)[)\]}]")
#: A featured-artist credit left outside brackets, to the end of the text.
_FEAT_TAIL = re.compile(r"\s+(?:feat\.?|ft\.?|featuring)\s.*$")
_FEAT_HEAD = re.compile(r"^(?:feat\.?|ft\.?|featuring|with)\s")
#: Where an artist credit names a second artist ("A feat. B", "A & B", "A, B and C").
_ARTIST_SPLIT = re.compile(r"\s+(?:feat\.?|ft\.?|featuring|with|x|vs\.?)\s+|\s*(?:&|\+|,|;|/)\s*|\s+and\s+")
_YEARISH = re.compile(r"^(?:\d{4}|\d{1,3}(?:st|nd|rd|th))$")

#: Words of a descriptor that name another recording, and the tag each gives.
_HARD = {
    "live": "live",
    "demo": "demo",
    "instrumental": "instrumental",
    "acoustic": "acoustic",
    "unplugged": "acoustic",
    "remix": "mix",
    "mix": "mix",
    "extended": "mix",
    "club": "mix",
    "dub": "mix",
    "edit": "edit",
    "radio": "edit",
    "alternate": "alternate",
    "alt": "alternate",
    "take": "alternate",
    "outtake": "alternate",
    "early": "alternate",
    "rehearsal": "alternate",
    "acapella": "acapella",
    "cappella": "acapella",
    "karaoke": "karaoke",
}
#: Words of a descriptor that name a re-issue of the same recording, and the tag each gives ("" = no tag).
_SOFT = {
    "remaster": "remaster",
    "remastered": "remaster",
    "remasterd": "remaster",
    "digital": "remaster",
    "digitally": "remaster",
    "deluxe": "edition",
    "expanded": "edition",
    "super": "edition",
    "anniversary": "edition",
    "special": "edition",
    "collectors": "edition",
    "limited": "edition",
    "bonus": "edition",
    "edition": "",
    "version": "",
    "track": "",
    "tracks": "",
    "explicit": "",
    "clean": "",
    "album": "",
    "original": "",
    "single": "",
    "mono": "mono",
    "stereo": "",
    "the": "",
    "a": "",
    "and": "",
}
#: Words after which a descriptor may name anyone ("Live at Wembley", "Kim Lee Remix").
_HARD_TAGS = frozenset(_HARD.values())
_LIVE_PREPOSITIONS = {"at", "in", "from", "on"}
_NAMED_SUFFIX = {"remix": "mix", "mix": "mix", "edit": "edit", "dub": "mix"}


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _lower(text: str) -> str:
    """Case- and accent-folded, with the letters NFKD leaves alone spelled in ASCII; punctuation kept."""
    text = text.casefold()
    if not text.isascii():
        text = _strip_marks(text).translate(_LETTERS)
    return text


def _words(text: str) -> str:
    """``text`` (already lowered) as space-separated words: "&" becomes "and", other punctuation a word break."""
    # str.replace per character beats one translate() with a multi-character mapping (CPython's slow path).
    if "&" in text:
        text = text.replace("&", " and ")
    for joiner in _JOINERS:
        if joiner in text:
            text = text.replace(joiner, "")
    return _NON_WORD.sub(" ", text).strip()


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Case, accents and punctuation folded away: ``"Beyoncé & JAY-Z"`` → ``"beyonce and jay z"``."""
    return _words(_lower(text))


def _descriptor(segment: str) -> tuple[str, ...] | None:
    """The version tags a bracket or dash segment (lowered) names, or ``None`` when it is part of the title."""
    words = _words(segment).split()
    if not words:
        return ()
    if _FEAT_HEAD.match(segment.strip()):
        return ()
    if words[0] == "live" and (len(words) == 1 or words[1] in _LIVE_PREPOSITIONS):
        return ("live",)
    tags: list[str] = []
    for word in words:
        if word in _HARD:
            tags.append(_HARD[word])
        elif word in _SOFT:
            if _SOFT[word]:
                tags.append(_SOFT[word])
        elif not _YEARISH.match(word):
            break
    else:
        return tuple(tags)
    if len(words) >= 2 and words[-1] in _NAMED_SUFFIX:
        return (_NAMED_SUFFIX[words[-1]],)
    return None


def title_stem(text: str) -> str:
    """The folded words of a title before any bracket, `` - `` suffix or "feat." credit: the lookup key.

    Two titles whose :class:`TitleKey` bases agree nearly always share their stem, and the stem costs a tenth of
    the key, so the catalog indexes every title by stem and computes keys only for the candidates found.
    """
    stem = _STEM_END.split(text, maxsplit=1)[0]
    return _words(_lower(stem)) or _words(_lower(text))


@dataclass(frozen=True, slots=True)
class TitleKey:
    """A title (or album title) as matching compares it; see the module docstring for base, hard and soft."""

    #: Folded words naming the song, without featured artists and version descriptors.
    base: str
    #: Tags of a different recording (live, demo, mix, edit, ...): must agree for a match.
    hard: frozenset[str]
    #: Tags of a re-issue (remaster, edition, mono): rank candidates only.
    soft: frozenset[str]
    #: Folded whole text without featured artists: equal only when written the same way.
    full: str


@lru_cache(maxsize=262144)
def title_key(text: str) -> TitleKey:
    """Split a track or album title into base words and version tags (cached: libraries repeat album titles)."""
    lowered = _lower(text)
    hard: set[str] = set()
    soft: set[str] = set()

    def group(match: re.Match[str]) -> str:
        tags = _descriptor(match.group(1))
        if tags is None:
            return f" {match.group(1)} "
        for tag in tags:
            (hard if tag in _HARD_TAGS else soft).add(tag)
        return " "

    without_feat = _FEAT_TAIL.sub(
        "", _GROUP.sub(lambda m: " " if _FEAT_HEAD.match(m.group(1).strip()) else m[0], lowered)
    )
    body = _GROUP.sub(group, without_feat)
    parts = body.split(" - ")
    kept = [parts[0]]
    for part in parts[1:]:
        tags = _descriptor(part)
        if tags is None:
            kept.append(part)
            continue
        for tag in tags:
            (hard if tag in _HARD_TAGS else soft).add(tag)
    base = _words(" ".join(kept))
    full = _words(without_feat)
    return TitleKey(base=base or full, hard=frozenset(hard), soft=frozenset(soft), full=full)


#: Words a credit split leaves alone that name nobody.
_NOT_NAMES = frozenset({"the", "a", "and", "various artists", "various"})


def _artist_core(words: str) -> str:
    """An artist's folded name without a leading or trailing "the" ("The Pilots", "Pilots, The")."""
    if words.startswith("the ") and len(words) > 4:
        words = words[4:]
    if words.endswith(" the"):
        words = words[:-4]
    return words


@lru_cache(maxsize=65536)
def artist_keys(text: str) -> tuple[str, frozenset[str]]:
    """The artist credit's folded name and the folded names of each artist it credits.

    ``"The Pilots feat. Kim & Lee"`` → ``("pilots", {"pilots", "kim", "lee"})``: the first value is the credit
    without featured artists (the strong key), the set holds every name in it (the weak keys).
    """
    lowered = _lower(text)
    main = _artist_core(_words(_FEAT_TAIL.sub("", _GROUP.sub(" ", lowered)) or lowered))
    names = {main} if main else set()
    for part in _ARTIST_SPLIT.split(lowered):
        name = _artist_core(_words(part))
        if name and name not in _NOT_NAMES:
            names.add(name)
    return main, frozenset(names)


# --- paths -----------------------------------------------------------------------------------------------------

_DRIVE = re.compile(r"^[A-Za-z]:/")
#: UNC shares, and the roots of macOS volumes (case-insensitive unless formatted otherwise, which is rare).
_CASE_INSENSITIVE_ROOTS = ("//", "/Users/", "/Volumes/")


def normalize_path(path: str) -> str:
    """``path`` in NFC with forward slashes, no doubled or trailing slash, and an upper-case drive letter."""
    if (
        "\\" not in path
        and "//" not in path
        and not path.endswith("/")
        and not (path[1:2] == ":" and path[:1].islower())
        and (path.isascii() or unicodedata.is_normalized("NFC", path))
    ):
        # Plex's own paths are nearly always in this form already: a check is cheaper than a rewrite.
        return path
    path = unicodedata.normalize("NFC", path).replace("\\", "/")
    unc = path.startswith("//")
    while "//" in path:
        path = path.replace("//", "/")
    if unc:
        path = "/" + path
    if len(path) > 1:
        path = path.rstrip("/")
    if _DRIVE.match(path):
        path = path[0].upper() + path[1:]
    return path


def is_case_insensitive_path(path: str) -> bool:
    """Whether ``path`` (normalised) is on a file system that ignores case: Windows drives and shares, macOS."""
    if path[1:3] == ":/":
        return path[:1].isascii() and path[:1].isalpha()
    return path.startswith(_CASE_INSENSITIVE_ROOTS)


def path_key(path: str) -> str:
    """The case-folded form of a normalised path, for comparing paths from a case-insensitive source."""
    return path.casefold()


def file_name(path: str) -> str:
    """The last component of a normalised path."""
    return path.rsplit("/", 1)[-1]
