"""A language model's answer, verified sentence by sentence as it streams.

The model's text is cut into segments (a sentence with the markers after it, a list item,
a fenced code block). Each finished segment is checked before anything of it is shown:

- a sentence stays only if a retrieved section supports it (``claims.ClaimVerifier``);
  its citation then quotes the sentence that supports it, verbatim, whatever number the
  model wrote (invented numbers are dropped with the claim they decorate);
- a code block stays only if each of its lines is a line of a retrieved section;
- a sentence that states nothing checkable ("Here is how:") is dropped, and so is the
  model's "Sources:" list at the end.

``verification`` counts the claims kept and removed; the engine returns it with the answer
and falls back to the extractive answer when nothing was kept.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kbcore.answering.citations import marker, normalize_markers
from kbcore.answering.claims import ClaimVerifier, SourceText, Verdict
from kbcore.answering.extractive import Draft
from kbcore.answering.llm import NOT_COVERED
from kbcore.answering.models import Citation, Verification
from kbcore.answering.sources import Source

log = logging.getLogger(__name__)
_MARKERS = (
    r"(?:\s*(?:\[\d{1,3}(?:\s*[,;]\s*\d{1,3})*\]|【\s*\d{1,3}\s*】|\[\^\d{1,3}\]"
    r"|\((?:source|ref)s?\s*#?\d{1,3}\)))*"
)
_SENTENCE_END = re.compile(r"[.!?][\"')\]*_]*" + _MARKERS + r"(?=\s)", re.IGNORECASE)
_NUMBERS = re.compile(r"\[(\d{1,3})\]")
_TRAILER = re.compile(
    r"^\s*(?:#+\s*)?(?:\*\*)?(?:sources?|references?|citations?)(?:\*\*)?\s*:?\s*(?:\*\*)?\s*$",
    re.IGNORECASE,
)


@dataclass
class _Segment:
    text: str
    code: bool = False


@dataclass
class GeneratedAnswer:
    """Feed the model's deltas; get back the text a visitor may see; finish with a Draft."""

    verifier: ClaimVerifier
    sources: Sequence[Source]
    known: Callable[[str], float] = lambda word: 0.0  # share of the docs' chunks using a word
    _buffer: str = ""
    _parts: list[str] = field(default_factory=list)  # kept segments, with drafting markers
    _citations: dict[tuple[int, int], Citation] = field(default_factory=dict)
    _texts: list[SourceText] | None = None
    _trailer: bool = False  # the model's own "Sources:" list has begun: drop the rest
    claims: int = 0
    kept: int = 0
    reasons: list[str] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)

    def feed(self, delta: str) -> list[str]:
        """Text to show for the segments this delta completed (verified ones only)."""
        self.raw.append(delta)
        self._buffer += delta
        out = []
        while (segment := self._next()) is not None:
            shown = self._check(segment)
            if shown:
                out.append(shown)
        return out

    def flush(self) -> list[str]:
        """The last segment (the model has finished)."""
        rest, self._buffer = self._buffer.strip(), ""
        if not rest:
            return []
        code = rest.startswith("```")
        if code and not rest.rstrip().endswith("```"):
            rest += "\n```"
        shown = self._check(_Segment(rest, code))
        return [shown] if shown else []

    @property
    def not_covered(self) -> bool:
        return "".join(self.raw).strip().startswith(NOT_COVERED)

    def verification(self) -> Verification:
        return Verification(self.claims, self.kept, self.claims - self.kept)

    def draft(self) -> Draft:
        """What was kept, as a draft the engine verifies (quotes) and numbers."""
        citations = sorted(self._citations.values(), key=lambda c: c.id)
        text = "".join(self._parts).strip(" \n")  # not str.strip(): \x1f is "whitespace"
        return Draft(text if citations else "", citations if text else [], "llm")

    # --- segments ------------------------------------------------------------------------

    def _next(self) -> _Segment | None:
        text = self._buffer
        lead = len(text) - len(text.lstrip())
        body = text[lead:]
        if not body:
            return None
        if body.startswith("```"):
            close = body.find("\n```", 3)
            if close < 0:
                return None
            end = body.find("\n", close + 4)
            if end < 0:
                return None  # the closing fence's line may go on (```python, or more)
            self._buffer = body[end:]
            return _Segment(body[:end], code=True)
        cut = None
        newline = body.find("\n")
        sentence = _SENTENCE_END.search(body)
        if sentence is not None and (newline < 0 or sentence.end() <= newline):
            cut = sentence.end()
        elif newline >= 0:
            cut = newline
        if cut is None:
            return None
        self._buffer = body[cut:]
        return _Segment(body[:cut])

    def _check(self, segment: _Segment) -> str:
        """The segment as shown ("" when dropped), recorded for the draft when kept."""
        if self._trailer:
            return ""
        if segment.code:
            if not self._code_found(segment.text):
                self.reasons.append("a code block not found in the sources")
                return ""
            self._parts.append(("\n" if self._parts else "") + segment.text + "\n")
            return segment.text + "\n"
        text = segment.text.strip()
        if not text or NOT_COVERED in text:
            return ""
        if _TRAILER.match(text):
            self._trailer = True
            return ""
        normalized = normalize_markers(text)
        cited = [int(n) for n in _NUMBERS.findall(normalized)]
        claim = _NUMBERS.sub("", normalized).strip()
        if not self.verifier.checkable(claim):
            return ""
        self.claims += 1
        numbers = [s.number for s in self.sources]
        verdict = self.verifier.check(
            claim,
            self._source_texts(),
            [numbers.index(n) for n in cited if n in numbers],
        )
        if not verdict.supported:
            self.reasons.append(verdict.reason)
            return ""
        self.kept += 1
        citation_id = self._cite(verdict)
        spacer = "" if not self._parts or self._parts[-1].endswith("\n") else " "
        list_item = segment.text.lstrip().startswith(("- ", "* ", "+ "))
        if list_item and self._parts:
            spacer = "\n"
        self._parts.append(spacer + claim + marker(citation_id))
        return f"{spacer}{claim} [{citation_id}]"

    def _cite(self, verdict: Verdict) -> int:
        assert verdict.source is not None and verdict.sentence is not None
        key = (verdict.source, verdict.sentence)
        if key not in self._citations:
            source = self.sources[verdict.source]
            sentence = source.sentences()[verdict.sentence]
            self._citations[key] = source.cite(len(self._citations) + 1, sentence.text)
        return self._citations[key].id

    def _source_texts(self) -> list[SourceText]:
        if self._texts is None:
            self._texts = []
            for source in self.sources:
                sentences = source.sentences()
                self._texts.append(
                    SourceText([s.text for s in sentences], text=source.text(), known=self.known)
                )
        return self._texts

    def _code_found(self, block: str) -> bool:
        lines = [line.strip() for line in block.split("\n")[1:-1] if line.strip()]
        if not lines:
            return False
        texts = [" ".join(t.text.split()) for t in self._source_texts()]
        return all(any(" ".join(line.split()) in t for t in texts) for line in lines)
