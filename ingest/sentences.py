"""Sentence spans of plain text: NLTK's Punkt English model (bundled with llama-index),
applied line by line so list items, table rows and code lines never merge."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

_EXTRA_ABBREVIATIONS = ("e.g", "i.e", "vs", "etc", "approx", "cf", "fig", "no")


class SentenceSplitter:
    """Splits text into ``(start, end)`` character spans of sentences."""

    @cached_property
    def _punkt(self) -> Any:
        import nltk
        from nltk.tokenize import PunktTokenizer

        # The Punkt model ships inside llama-index-core (no download); point NLTK at it
        # without importing llama-index itself (a second of start-up).
        spec = importlib.util.find_spec("llama_index.core")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError("llama-index-core is not installed")
        bundled = str(Path(next(iter(spec.submodule_search_locations))) / "_static" / "nltk_cache")
        if bundled not in nltk.data.path:
            nltk.data.path.append(bundled)

        tokenizer = PunktTokenizer("english")
        tokenizer._params.abbrev_types.update(_EXTRA_ABBREVIATIONS)
        return tokenizer

    def spans(
        self, text: str, prose: Sequence[bool] = (), whole: Sequence[bool] = ()
    ) -> list[tuple[int, int]]:
        """Sentence spans of ``text``, each stripped of surrounding whitespace. Lines whose
        ``prose`` flag is False (code, table headers) yield no sentences; lines whose
        ``whole`` flag is True (table rows) are one sentence each."""
        out: list[tuple[int, int]] = []
        position = 0
        for number, line in enumerate(text.split("\n")):
            if line.strip() and number < len(whole) and whole[number]:
                if number >= len(prose) or prose[number]:
                    lead = len(line) - len(line.lstrip())
                    out.append((position + lead, position + len(line.rstrip())))
            elif line.strip() and (number >= len(prose) or prose[number]):
                for start, end in self._punkt.span_tokenize(line):
                    piece = line[start:end]
                    lead = len(piece) - len(piece.lstrip())
                    trail = len(piece.rstrip())
                    if trail > lead:
                        out.append((position + start + lead, position + start + trail))
            position += len(line) + 1
        return out
