"""Whole-message keywords: STOP and friends, START, HELP, in every configured language.

A message is a keyword only when the whole text is one, compared case and punctuation
insensitive ("Stop.", "stop!!", " STOP ", "opt-out" all are; "stop sending me offers" is not:
that goes to the rules and an agent). Unicode is folded (NFKC + casefold), punctuation becomes a
space and runs of spaces collapse, so "OPT OUT", "opt-out" and "Opt  Out!" are one word list
entry.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from .config import MessagingConfig

_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)
MAX_KEYWORD_TEXT = 64  # longer texts are never a keyword: no normalising of long messages


class KeywordKind(StrEnum):
    STOP = "stop"
    START = "start"
    HELP = "help"


def normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NOT_WORD.sub(" ", folded).split())


@dataclass(frozen=True, slots=True)
class KeywordHit:
    kind: KeywordKind
    keyword: str  # as configured
    languages: tuple[str, ...]  # every language that has this keyword for this kind


class Keywords:
    """Built once from the configuration; `match` is a dictionary look-up."""

    def __init__(self, config: MessagingConfig) -> None:
        table: dict[str, tuple[KeywordKind, str, list[str]]] = {}
        for words in config.languages:
            language = words.code
            for kind, entries in (
                (KeywordKind.STOP, words.stop),
                (KeywordKind.START, words.start),
                (KeywordKind.HELP, words.help),
            ):
                for entry in entries:
                    key = normalise(entry)
                    if not key:
                        continue
                    known = table.get(key)
                    if known is None:
                        table[key] = (kind, entry, [language])
                    elif known[0] is kind:
                        known[2].append(language)
                    elif kind is KeywordKind.STOP:  # a clash resolves to the safe side
                        table[key] = (kind, entry, [language])
        self._table = {k: KeywordHit(kind, word, tuple(langs))
                       for k, (kind, word, langs) in table.items()}
        self._handoff = {normalise(w) for w in config.handoff_keywords if normalise(w)}

    def match(self, text: str) -> KeywordHit | None:
        if len(text) > MAX_KEYWORD_TEXT:
            return None
        return self._table.get(normalise(text))

    def is_handoff(self, text: str) -> bool:
        return len(text) <= MAX_KEYWORD_TEXT and normalise(text) in self._handoff

    def stop_words(self) -> list[str]:
        return [hit.keyword for hit in self._table.values() if hit.kind is KeywordKind.STOP]


def matches_any(text: str, words: list[str]) -> bool:
    """Whole-message match against a rule's keyword list."""
    if len(text) > MAX_KEYWORD_TEXT:
        return False
    key = normalise(text)
    return any(key == normalise(w) for w in words)


def mentions_opt_out(text: str, instruction: str, stop_words: list[str]) -> bool:
    """Whether a text already tells how to opt out: the configured instruction, or "reply ...
    STOP"-style wording with one of the stop keywords as a word."""
    folded = normalise(text)
    if normalise(instruction) in folded:
        return True
    words = f" {folded} "
    return "reply" in words and any(f" {normalise(w)} " in words for w in stop_words)


__all__ = ["KeywordHit", "KeywordKind", "Keywords", "matches_any", "mentions_opt_out",
           "normalise"]
