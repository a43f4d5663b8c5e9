"""Sentence spans of plain text: NLTK's Punkt English model (bundled with llama-index),
applied line by line so list items, table rows and code lines never merge."""

from __future__ import annotations

import os
from functools import cached_property
from typing import Any

_EXTRA_ABBREVIATIONS = ("e.g", "i.e", "vs", "etc", "approx", "cf", "fig", "no")


class SentenceSplitter:
    """Splits text into ``(start, end)`` character spans of sentences."""

    @cached_property
    def _punkt(self) -> Any:
        # llama-index points NLTK at its bundled data only while NLTK_DATA is unset.
        os.environ.pop("NLTK_DATA", None)
        from llama_index.core.utils import globals_helper

        globals_helper.wait_for_nltk_check()
        from nltk.tokenize import PunktTokenizer

        tokenizer = PunktTokenizer("english")
        tokenizer._params.abbrev_types.update(_EXTRA_ABBREVIATIONS)
        return tokenizer

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Sentence spans of ``text``; every span is stripped of surrounding whitespace."""
        out: list[tuple[int, int]] = []
        position = 0
        for line in text.split("\n"):
            if line.strip():
                for start, end in self._punkt.span_tokenize(line):
                    piece = line[start:end]
                    lead = len(piece) - len(piece.lstrip())
                    trail = len(piece.rstrip())
                    if trail > lead:
                        out.append((position + start + lead, position + start + trail))
            position += len(line) + 1
        return out
