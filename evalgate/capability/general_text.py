"""Perplexity drift on general text: did the fine-tune make the model worse at plain English?

MMLU accuracy on a small model such as SmolLM2-135M sits near chance (25%), where an adapter
that damages general knowledge can hardly score lower, so the accuracy test has little power.
The per-token negative log-likelihood of ordinary prose keeps its power at any model size:
every token is a measurement, and base and candidate are compared document by document
(paired), so the difference in mean NLL per document shows drift that accuracy cannot.

The text set ships inside evalgate (`general_text.jsonl`, 60 documents of encyclopedic and
everyday prose written for evalgate and released CC0), so the check runs offline and its
source is known; users may point at their own JSONL file (`text`, optional `id`) instead. The
set's `source` and sha256 are named in reports, so a verdict says exactly what was measured.

General text is only a fair yardstick if the adapter never trained on it, so
`check_no_overlap` refuses a set that shares text with the training data: a document that is
the same text, a near duplicate (the shared word 8-gram test of `util/overlap.py`), or that
shares one long verbatim span (13 words) with any training text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from evalgate.errors import ConfigError
from evalgate.util.files import sha256_file
from evalgate.util.jsonl import read_json_lines
from evalgate.util.overlap import exact_overlap, near_duplicates, word_ngrams
from evalgate.util.text import normalize_text

if TYPE_CHECKING:
    from evalgate.models.engine import Engine, OnDone

KEY = "general_text"
PACKAGED_FILE = "general_text.jsonl"
PACKAGED_VERSION = "v1"
# A shared run of this many words (in `normalize_text` form) is a copy, not a coincidence:
# the span GPT-3's contamination analysis used. Longer than the 8-grams of `near_duplicates`,
# because here a single shared span is enough to refuse the set.
VERBATIM_SPAN_WORDS = 13

_OWN_FILE_FIX = ("point `general_text:` at a JSONL file with one {\"id\": ..., \"text\": ...} "
                 "object per line, or leave it out to use the packaged set")


@dataclass(frozen=True)
class Document:
    """One text of the set; `line` is its line in the file (errors name it)."""

    id: str
    text: str
    line: int


@dataclass(frozen=True)
class TextSet:
    """The documents of one general-text file, in file order, with the file's hash.

    `source` is what reports print: the packaged set's name and licence, or the user's path.
    """

    source: str
    path: Path
    sha256: str
    documents: tuple[Document, ...]

    def __len__(self) -> int:
        return len(self.documents)


def packaged_path() -> Path:
    """The text set that ships with evalgate (next to this module)."""
    return Path(__file__).with_name(PACKAGED_FILE)


def load_general_text(path: str | Path | None = None) -> TextSet:
    """The packaged text set, or a user's JSONL file (`text` required, `id` optional: else
    `doc-<line>`). Every problem is a ConfigError naming the file (and line) and the fix."""
    packaged = path is None
    path = packaged_path() if path is None else Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(
            "general text file not found", path=path, key=KEY,
            fix="reinstall evalgate: its packaged general text is missing" if packaged
            else _OWN_FILE_FIX)
    rows = read_json_lines(path)  # non-UTF-8 and malformed JSON: errors naming the line
    if not rows:
        raise ConfigError("the general text file has no documents", path=path, key=KEY,
                          fix="add documents, one JSON object with a `text` field per line")
    documents: list[Document] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        text = row.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(
                "each line needs a non-empty `text`" if "text" in row
                else "missing field `text`", path=path, line=line, key=KEY,
                fix="give every line the document as a string: {\"text\": \"...\"}")
        doc_id = _document_id(row.get("id"), path, line)
        if doc_id in seen:
            raise ConfigError(f"duplicate document id '{doc_id}' (first on line {seen[doc_id]})",
                              path=path, line=line, key=KEY,
                              fix="give every document a unique id (or leave `id` out)")
        seen[doc_id] = line
        documents.append(Document(id=doc_id, text=text, line=line))
    source = (f"evalgate general text {PACKAGED_VERSION} ({len(documents)} documents written "
              "for evalgate, CC0)" if packaged else str(path))
    return TextSet(source=source, path=path, sha256=sha256_file(path),
                   documents=tuple(documents))


def _document_id(value: object, path: Path, line: int) -> str:
    if value is None:
        return f"doc-{line}"
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        raise ConfigError(f"`id` must be non-empty text, not {value!r}", path=path, line=line,
                          key=KEY, fix="write the id as a string, or leave it out")
    return str(value)


# -- overlap with the training data --------------------------------------------------------------


def check_no_overlap(text_set: TextSet, training_texts: Sequence[str],
                     training_path: Path | None) -> None:
    """Refuse a text set that shares text with the training data: a document equal to a
    training text (after normalisation), a near duplicate of one, or sharing a verbatim span of
    `VERBATIM_SPAN_WORDS` words with one. Pass every text field of every training record.

    The documents are indexed and the training texts streamed past them, so memory grows with
    the (small) text set, not with the training data.
    """
    documents = [(d.id, d.text) for d in text_set.documents]
    training = [(str(i), t) for i, t in enumerate(training_texts)]
    # document id → (how it overlaps, the evidence); the strongest finding is kept
    found: dict[str, tuple[str, str]] = {}
    for train_id, doc_id in exact_overlap(training, documents):
        found.setdefault(doc_id, ("is the same text as a training text",
                                  _quote(training_texts[int(train_id)])))
    for near in near_duplicates(training, documents):
        shared = f"{near.containment:.0%} of word 8-grams shared with"
        found.setdefault(near.right_id, ("is a near duplicate of a training text",
                                         f"{shared} {_quote(training_texts[int(near.left_id)])}"))
    for doc_id, span in _verbatim_spans(text_set.documents, training_texts).items():
        kind = f"shares a {len(span)}-word verbatim span with a training text"
        found.setdefault(doc_id, (kind, _quote(" ".join(span))))
    if not found:
        return
    order = [d for d in text_set.documents if d.id in found]
    first = order[0]
    where = f"the training data ({training_path})" if training_path else "the training data"
    others = [d.id for d in order[1:]]
    more = (f"; {len(others)} more document{'s' if len(others) > 1 else ''} overlap: "
            f"{', '.join(others[:5])}{', …' if len(others) > 5 else ''}") if others else ""
    raise ConfigError(
        f"general text document {first.id} {found[first.id][0]} in {where}: "
        f"{found[first.id][1]}{more}",
        path=text_set.path, line=first.line, key=KEY,
        fix="perplexity drift must be measured on text the adapter never trained on: remove "
            "or rewrite the overlapping documents, or point `general_text:` at another file")


def _verbatim_spans(documents: Sequence[Document], training_texts: Sequence[str]
                    ) -> dict[str, tuple[str, ...]]:
    """Per document sharing any `VERBATIM_SPAN_WORDS`-word run with a training text, the
    longest shared run (in `normalize_text` words)."""
    n = VERBATIM_SPAN_WORDS
    words = [normalize_text(d.text).split() for d in documents]
    index: dict[tuple[str, ...], list[tuple[int, int]]] = {}  # n-gram → (document, position)
    for k, doc_words in enumerate(words):
        for position in range(len(doc_words) - n + 1):
            index.setdefault(tuple(doc_words[position:position + n]), []).append((k, position))
    hits: dict[int, set[int]] = {}
    for text in training_texts:
        for gram in word_ngrams(text, n) & index.keys():
            for k, position in index[gram]:
                hits.setdefault(k, set()).add(position)
    spans: dict[str, tuple[str, ...]] = {}
    for k, positions in hits.items():
        best_start, best_length, start, previous = 0, 0, -2, -2
        for position in sorted(positions):
            start = start if position == previous + 1 else position
            previous = position
            if position - start + n > best_length:
                best_start, best_length = start, position - start + n
        spans[documents[k].id] = tuple(words[k][best_start:best_start + best_length])
    return spans


def _quote(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return '"' + (flat if len(flat) <= limit else flat[:limit - 1] + "…") + '"'


# -- scoring -------------------------------------------------------------------------------------


def score_perplexity(engine: Engine, text_set: TextSet, on_done: OnDone = None
                     ) -> dict[str, tuple[float, int]]:
    """Per document id: (sum of token NLL in nats, number of tokens scored).

    Every token but the first is scored given the tokens before it; the first is context only.
    No start token is prepended: on instruct models such as SmolLM2 the BOS token is the chat
    template's `<|im_start|>`, after which the model expects a role name, and that surprise
    would enter every document's score. `on_done(n)` as n more documents finish.
    """
    for document in text_set.documents:
        tokens = len(engine.encode(document.text))
        if tokens < 2:
            raise ConfigError(f"document {document.id} is {tokens} token(s) long: there is "
                              "nothing to score", path=text_set.path, line=document.line,
                              key=KEY, fix="give every document at least a sentence of text")
        if engine.max_length is not None and tokens > engine.max_length:
            raise ConfigError(f"document {document.id} is {tokens} tokens long, more than the "
                              f"model's window of {engine.max_length}", path=text_set.path,
                              line=document.line, key=KEY,
                              fix="split the document into shorter ones")
    logprobs = engine.token_logprobs([d.text for d in text_set.documents], on_done=on_done)
    return {d.id: (-math.fsum(values), len(values))
            for d, values in zip(text_set.documents, logprobs)}


def mean_nll(pair: tuple[float, int]) -> float:
    """A document's mean NLL per token (nats) from (sum, count): what the gate compares
    between base and candidate, document by document."""
    total, count = pair
    if count <= 0:
        raise ValueError(f"no scored tokens (sum {total}, count {count})")
    return total / count
