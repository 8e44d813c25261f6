"""The built-in MMLU scorer: one forward pass per question scoring the four answer letters.

lm-eval's reference (`output_type: multiple_choice`) scores " A".." D" after each prompt and takes
the highest log-likelihood. The same requests go to `Engine.loglikelihood`, which groups the four
single-token continuations by context (one last-position pass per question) and batches questions
by a token budget, so memory is bounded by the budget rather than probed (lm-eval's `auto` batch
size reached 23 GiB on the reference machine). The result keeps, per question, the four raw
log-probs and what later checks need from them: the predicted letter, correctness, and the gold
letter's log-prob both raw and renormalised over the four letters (the answer distribution whose
agreement and KL divergence compare a candidate with its base model).

The scorer is model-agnostic: base or base + adapter is whatever the caller's Engine holds. The
dtype is recorded with the scores, and `agreement` refuses to compare scores of different dtypes
unless told to (a gate never compares base and candidate across precisions; the bench does, on
purpose, to measure what bf16 costs).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from evalgate.capability.data import CONTINUATIONS, LETTERS, Subset
from evalgate.errors import RunError

if TYPE_CHECKING:
    from evalgate.models.engine import Engine, OnDone


@dataclass(frozen=True)
class QuestionScore:
    """One question's answer-letter log-probs (raw: log p(" X" | prompt) over the vocabulary)."""

    id: str
    subject: str
    answer: str  # gold letter
    logprobs: tuple[float, float, float, float]
    predicted: str  # argmax letter; ties go to the first, as numpy's argmax in lm-eval
    correct: bool
    gold_logprob: float  # raw
    gold_logprob_choices: float  # log-softmax over the four letters

    @property
    def choice_logprobs(self) -> tuple[float, ...]:
        """The answer distribution: log-softmax of the four raw log-probs."""
        return _log_softmax(self.logprobs)


@dataclass(frozen=True)
class MMLUScores:
    """Scores of one model (as loaded: base or base + adapter, in one dtype) on one subset."""

    pin: str
    dtype: str
    model_identity: str
    adapter_hash: str | None
    scores: tuple[QuestionScore, ...]
    seconds: float

    @property
    def accuracy(self) -> float:
        return sum(s.correct for s in self.scores) / len(self.scores) if self.scores else 0.0

    @property
    def mean_gold_logprob(self) -> float:
        """Mean renormalised gold log-prob (over the four letters): keeps its power near chance."""
        if not self.scores:
            return 0.0
        return sum(s.gold_logprob_choices for s in self.scores) / len(self.scores)

    def predictions(self) -> dict[str, str]:
        return {s.id: s.predicted for s in self.scores}


def score_subset(engine: Engine, subset: Subset, on_done: OnDone = None) -> MMLUScores:
    """Score every question of `subset` with `engine`; `on_done(n)` as n more questions finish."""
    prefix = _bos_text(engine)
    requests = [(prefix + prompt, continuation) for prompt in subset.prompts()
                for continuation in CONTINUATIONS]
    counted = [0]

    def done(n: int) -> None:  # the engine counts requests; callers count questions
        if on_done is None:
            return
        before = counted[0] // len(LETTERS)
        counted[0] += n
        if counted[0] // len(LETTERS) > before:
            on_done(counted[0] // len(LETTERS) - before)

    start = time.perf_counter()
    results = engine.loglikelihood(requests, on_done=done)
    seconds = time.perf_counter() - start
    scores = [
        question_score(q.id, q.subject, q.answer,
                       [results[4 * i + j][0] for j in range(len(LETTERS))])
        for i, q in enumerate(subset.questions)
    ]
    loaded = engine.loaded
    return MMLUScores(pin=subset.pin, dtype=loaded.dtype, model_identity=loaded.identity,
                      adapter_hash=loaded.adapter_hash, scores=tuple(scores), seconds=seconds)


def question_score(qid: str, subject: str, answer: int, logprobs: Sequence[float]
                   ) -> QuestionScore:
    """A question's score from its four raw log-probs (also used for lm-eval's responses)."""
    values = tuple(float(v) for v in logprobs)
    if len(values) != len(LETTERS):
        raise RunError(f"question {qid}: {len(values)} log-probs, expected {len(LETTERS)}")
    best = max(range(len(values)), key=lambda j: (values[j], -j))
    return QuestionScore(
        id=qid,
        subject=subject,
        answer=LETTERS[answer],
        logprobs=values,  # type: ignore[arg-type]
        predicted=LETTERS[best],
        correct=best == answer,
        gold_logprob=values[answer],
        gold_logprob_choices=_log_softmax(values)[answer],
    )


def agreement(a: MMLUScores, b: MMLUScores, *, allow_mixed_dtype: bool = False) -> tuple[int, int]:
    """(questions with the same predicted letter, questions compared) of two runs on one subset."""
    if a.pin != b.pin:
        raise RunError(f"the runs scored different subsets (pins {a.pin[:12]} and {b.pin[:12]})")
    if a.dtype != b.dtype and not allow_mixed_dtype:
        raise RunError(f"the runs used different dtypes ({a.dtype} and {b.dtype}); score base and "
                       "candidate in the same dtype")
    other = b.predictions()
    same = sum(other.get(s.id) == s.predicted for s in a.scores)
    return same, len(a.scores)


def _log_softmax(values: Sequence[float]) -> tuple[float, ...]:
    top = max(values)
    total = top + math.log(sum(math.exp(v - top) for v in values))
    return tuple(v - total for v in values)


def _bos_text(engine: Engine) -> str:
    """The BOS token's text when the tokenizer adds one by default (Llama, Mistral): lm-eval's
    HF model encodes prompts with the tokenizer's default special tokens and the engine without,
    so the text is prepended to match. Empty for SmolLM2 and other GPT-2-style tokenizers."""
    tokenizer = engine.tokenizer
    bos_id, bos = tokenizer.bos_token_id, tokenizer.bos_token
    if bos_id is None or not bos:
        return ""
    ids = tokenizer("Answer:")["input_ids"]
    return bos if ids and ids[0] == bos_id else ""
