"""A family of small documents for measuring dictionaries: bibliography records, made deterministically.

Each record is a BibTeX entry of about 146 bytes: one to three authors drawn from fixed lists of
surnames and initials, a title cut from the running text of ``lcet10.txt`` (a public-domain
Canterbury text packaged with nacrith: so titles are real English, not a word salad), a journal
or proceedings from a fixed list, a year, and pages in three records of ten. The same ``seed`` and index always
give the same record, so a dictionary's training records and the records it is measured on are
disjoint and reproducible: ``records(200)`` to train, ``records(10, start=200)`` to measure.
"""

from __future__ import annotations

import random
import re

from .corpora import PACKAGED

__all__ = ["record", "records"]

SURNAMES = (
    "Smith Johnson Williams Brown Jones Miller Davis Garcia Wilson Anderson Taylor Thomas Moore Martin "
    "Jackson Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright Scott Hill Green "
    "Adams Baker Nelson Carter Mitchell Roberts Turner Phillips Campbell Parker Evans Edwards Collins "
    "Stewart Morris Rogers Reed Cook Morgan Bell Murphy Bailey Cooper Richardson Cox Howard Ward Peterson "
    "Gray James Watson Brooks Kelly Sanders Price Bennett Wood Barnes Ross Henderson Coleman Jenkins Perry "
    "Powell Long Patterson Hughes Flores Washington Butler Simmons Foster Bryant Russell Griffin Hayes"
).split()

VENUES = (
    ("article", "journal", "J. Documentation"),
    ("article", "journal", "Library Quarterly"),
    ("article", "journal", "Commun. ACM"),
    ("article", "journal", "Inf. Process. Manage."),
    ("article", "journal", "J. Am. Soc. Inf. Sci."),
    ("article", "journal", "Comput. Humanit."),
    ("article", "journal", "Lit. Linguist. Comput."),
    ("inproceedings", "booktitle", "Proc. Digital Libraries"),
    ("inproceedings", "booktitle", "Proc. SIGIR"),
    ("inproceedings", "booktitle", "Proc. Electronic Texts"),
)


def _title_words() -> list[str]:
    text = (PACKAGED / "lcet10.txt").read_bytes().decode("latin-1")
    body = text[text.index("Session I.") :]  # past the header and its table of contents' opening
    return re.findall(r"[A-Za-z][A-Za-z'-]*", body)


_WORDS: list[str] = []


def record(index: int, seed: int = 2024) -> bytes:
    """Record ``index`` of the family ``seed``: a BibTeX entry ending in a line feed."""
    if not _WORDS:
        _WORDS.extend(_title_words())
    rng = random.Random(f"{seed}/{index}")
    names = rng.sample(SURNAMES, rng.choice((1, 1, 1, 2, 2, 3)))
    authors = " and ".join(f"{name}, {rng.choice('ABCDEFGHJKLMNPRSTW')}." for name in names)
    start = rng.randrange(len(_WORDS) - 12)
    words = _WORDS[start : start + rng.randint(2, 6)]
    title = " ".join(words)
    title = title[0].upper() + title[1:]
    kind, field, venue = rng.choice(VENUES)
    year = rng.randint(1975, 1995)
    key = f"{names[0].lower()}{year}{words[0].lower()}"
    first = rng.randint(1, 400)
    pages = f",\n  pages = {{{first}--{first + rng.randint(2, 30)}}}" if rng.random() < 0.3 else ""
    return (
        f"@{kind}{{{key},\n"
        f"  author = {{{authors}}},\n"
        f"  title = {{{title}}},\n"
        f"  {field} = {{{venue}}},\n"
        f"  year = {year}{pages}\n"
        "}\n"
    ).encode()


def records(count: int, start: int = 0, seed: int = 2024) -> list[bytes]:
    """Records ``start`` to ``start + count - 1`` of the family ``seed``."""
    return [record(i, seed) for i in range(start, start + count)]
