"""What kind of statement a question asks for, and what kind of statement a sentence is.

Question types: a quantity ("how much", "how many"), a definition ("what is X?"), a
default ("what's the default ...?"), a reason ("why ...?"), a contrast ("X vs Y"), a
means ("how do I ...?", "can I ...?", "is there a way ...?", anywhere in the question) or
a yes/no answer ("does it ...?").

Sentence kinds: one that states a default ("Default: 80", "defaults to"), gives a reason
("because", "so that"), draws a contrast ("whereas", "unlike"), states a means (an
instruction, "by setting"), limits or negates ("only", "has no support for"), points
elsewhere ("See ..."), or is a bare label ("Type: string"), a heading-like fragment
without a verb, or a question of its own.

These are features of the sentence ranker (``kbcore.answering.features``), which learns
how much each counts; nothing here decides on its own.
"""

from __future__ import annotations

import re

QUANTITY_QUESTION = re.compile(
    r"\b(how (much|many|long|often|big|large|small)|what (value|size|number|percentage|"
    r"dimension|rank)|cost|price|budget|set (?:me|us|you) back)\b",
    re.IGNORECASE,
)
DIGIT = re.compile(r"\d")
# A question a plain "yes" or "no" can answer; other questions skip yes/no answers.
YES_NO_QUESTION = re.compile(
    r"^\W*(is|are|am|was|were|do|does|did|can|could|should|would|will|shall|has|have|had|"
    r"may|might|must)\b",
    re.IGNORECASE,
)
YES_NO_ANSWER = re.compile(r"^(yes|no|not necessarily|usually not|probably not)\b", re.IGNORECASE)
# "What is X?", "what's X", "define X": sentences that say what X is answer it.
_DEFINITION_QUESTION = re.compile(
    r"^\W*(?:what(?:\s+(?:exactly|really|actually))?(?:'s|s| is| are| does)|define|"
    r"meaning of|explain)\s+(?:(?:exactly|really|actually)\s+)?(?:an?\s+|the\s+)?"
    r"(?P<term>[^?]{2,60}?)(?:\s+(?:mean|stand for))?\s*\??\s*$",
    re.IGNORECASE,
)
# "What is the 'core schema' that pydantic hands over?": the term ends where a relative
# clause starts, and quotes around it are not part of it.
_RELATIVE_CLAUSE = re.compile(r"\s+(?:that|which|who|whom|whose)\s.*$", re.IGNORECASE)
_QUOTES = "'\"`‘’“”"
_ARTICLE = re.compile(r"^(?:an?|the)\s+")
_COPULAS = ("(", "is ", "are ", "means ", "stands for ", "refers to ")
# Sentences that point elsewhere instead of saying something ("See ...", "This article ...").
SIGNPOST = re.compile(
    r"^(see|read|this (article|guide|page|section)|the (next|following|rest of this) "
    r"(section|article)|for (the basics|more|details)\b)",
    re.IGNORECASE,
)
DEFAULT_QUESTION = re.compile(r"\bdefaults?\b", re.IGNORECASE)
STATES_DEFAULT = re.compile(r"\b(?:default:|defaults? (?:to|is|value)|by default)", re.IGNORECASE)
WHY_QUESTION = re.compile(r"^\W*(?:why|how come)\b|\bwhy\b", re.IGNORECASE)
REASON = re.compile(
    r"\b(?:because|since|so that|due to|as a result|the reason|this is why|that's why|"
    r"which is why|the catch|otherwise|in order to)\b",
    re.IGNORECASE,
)
CONTRAST_QUESTION = re.compile(
    r"\b(?:vs\.?|versus|differen(?:ce|t)|differ|compared?(?: to| with)?|better than)\b",
    re.IGNORECASE,
)
CONTRAST = re.compile(
    r"\b(?:whereas|unlike|while|the difference|differs?|instead of|rather than|compared|"
    r"in contrast|than)\b",
    re.IGNORECASE,
)
HOW_TO_QUESTION = re.compile(
    r"\bhow (?:do|can|should|would|could|to) (?:i|you|we|one)\b|\bhow to\b|\b(?:can|could) i\b|"
    r"\bis (?:there a way|it possible)\b|\bwhat(?:'s| is) the (?:best |right |recommended )?way\b",
    re.IGNORECASE,
)
_IMPERATIVE = (
    r"(?:use|set|pass|add|call|run|enable|disable|install|configure|specify|require|create|"
    r"define|wrap|import|replace|override|put|turn|change|provide|remove)\b"
)
IMPERATIVE = re.compile(rf"^{_IMPERATIVE}", re.IGNORECASE)
MEANS = re.compile(
    rf"^(?:to [^,]{{3,80}},\s*)?{_IMPERATIVE}|"
    r"\bby (?:setting|using|passing|adding|calling|running|enabling|disabling|specifying|"
    r"providing|configuring|overriding|replacing|declaring|defining|installing|changing)\b|"
    r"\b(?:can|could|may) (?:be|still be|also be) \w+ed (?:by|with|using|via|to)\b",
    re.IGNORECASE,
)
# An amount of money: "$50-500", "€20", "120 USD".
MONEY = re.compile(r"[$€£]\s?\d|\b\d[\d,.]*\s?(?:usd|eur|dollars?)\b", re.IGNORECASE)
NEGATION = re.compile(r"\b(?:not|no|never|only|without|cannot)\b|n't\b|n’t\b", re.IGNORECASE)
# Opens by pointing back at what came before: it needs its neighbour to be understood.
ANAPHOR = re.compile(r"^(?:this|that|these|those|it|they|such|however|also|then)\b", re.I)
# "Type: string", "Default: 80", "Alias: -w.": a label and its value, nothing more.
LABEL = re.compile(r"^[A-Z][\w /()-]{0,30}:\s*\S.{0,60}$")
_VERB_HINT = re.compile(
    r"\b(?:is|are|was|were|be|been|has|have|had|do|does|did|can|could|will|would|should|"
    r"must|may|might|need|needs|use|uses|set|sets|make|makes|let|lets|allow|allows|run|runs|"
    r"add|adds|take|takes|get|gets|return|returns|\w+(?:es|ed|ing))\b",
    re.IGNORECASE,
)
# A token a reader would type into code: snake_case, camelCase, dotted.names, --flags,
# call(), numbers with units.
IDENTIFIER = re.compile(
    r"--?[A-Za-z][\w-]*|\b\w+(?:[._]\w+)+(?:\(\))?|\b[a-z]+[A-Z]\w*|\b\w+\(\)|\b\d[\d.,]*\w*"
)


def is_label(sentence: str) -> bool:
    """A bare label and its value ("Type: string", "Default: 80"): no statement of its own."""
    text = sentence.strip()
    return bool(LABEL.match(text)) and not _VERB_HINT.search(text.split(":", 1)[1])


def is_fragment(sentence: str) -> bool:
    """A heading-like fragment: a few words with no verb and no closing punctuation."""
    text = sentence.strip()
    words = text.split()
    return (
        len(words) <= 6 and not text.endswith((".", "!", "?", ":")) and not _VERB_HINT.search(text)
    )


def defined_term(question: str) -> str:
    """The X of "What is X?" (lower case), or ""."""
    match = _DEFINITION_QUESTION.match(question.strip())
    if not match:
        return ""
    term = _RELATIVE_CLAUSE.sub("", match.group("term")).strip().strip(_QUOTES).strip()
    return term.lower()


def defines(sentence: str, term: str) -> bool:
    """Whether a sentence says what ``term`` is: it opens with the term and a copula
    ("LoRA (Low-Rank ...) freezes", "RAG stands for", "Prompt injection is an attack",
    "A reranker reorders ...", "Chain-of-thought prompting is ..." for "chain of
    thought": hyphens and a leading article do not matter, and one head noun may follow
    the term), or it names the term and defines it after a colon ("... uses the concept
    of a core schema: a structured Python dictionary ...")."""
    lower = _ARTICLE.sub("", sentence.lower().replace("-", " "))
    term = _ARTICLE.sub("", term.replace("-", " "))
    if not term:
        return False
    if not lower.startswith(term):
        return f" {term}: " in f" {lower}"
    rest = lower[len(term) :].lstrip()
    words = rest.split(" ", 2)
    return (
        rest.startswith(_COPULAS)
        or (bool(rest) and words[0].endswith("s"))
        or (len(words) > 1 and f"{words[1]} ".startswith(_COPULAS))
    )
