"""Judges: a model that says which of two answers is better under a rubric, on any backend.

- **Log-prob judge** (a backend that scores log-likelihoods: `local`, the embedded model by
  default, so everything works offline): the judge prompt ends with the assistant's turn opened,
  and the verdict is whichever of "A" and "B" the model gives the higher log-probability as its
  first token — nothing is generated, nothing is parsed.
- **JSON judge** (an OpenAI-compatible endpoint): asked for `{"winner": "A" | "B" | "tie"}` and
  nothing else; a reply that is not exactly that is asked again (`json_retries`) with a reminder,
  and recorded as unparseable if it still is not. The backend's client brings the timeouts,
  retries with backoff on 429/5xx and the concurrency limit.

Every verdict is cached (SQLite, `measurements`), keyed by the judge's identity, the rubric, the
prompt, both answers and their order: a re-gate asks the judge nothing it was asked before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from evalgate.judge.verdicts import FIRST, SECOND, TIE
from evalgate.util.files import sha256_json

JUDGE_VERSION = "2"  # bump when the judge prompt, the reading of verdicts or the scorer changes
CACHE_KIND = "judge"

SYSTEM = ("You are an impartial judge. You compare two answers to the same request and decide "
          "which one is better according to this rubric:\n\n{rubric}\n\nThe order in which the "
          "answers are shown does not matter, and neither does their length unless the rubric "
          "says so.")
ASK_LETTER = ("Which answer is better according to the rubric? Reply with the letter of the "
              "better answer: A or B.")
ASK_JSON = ('Which answer is better according to the rubric? Reply with one JSON object and '
            'nothing else: {"winner": "A"}, {"winner": "B"} or {"winner": "tie"}.')
REMINDER = ('Your reply could not be read. Reply with exactly one JSON object and nothing else: '
            '{"winner": "A"}, {"winner": "B"} or {"winner": "tie"}.')


@dataclass(frozen=True)
class Comparison:
    """One ordering of one pair: the request, the answer shown as A and the one shown as B."""

    request: str
    first: str
    second: str

    @property
    def key(self) -> str:
        return sha256_json({"request": self.request, "A": self.first, "B": self.second})


def judge_messages(rubric: str, comparison: Comparison, *, as_json: bool
                   ) -> list[dict[str, str]]:
    user = (f"Request:\n{comparison.request}\n\n[Answer A]\n{comparison.first}\n[End of answer "
            f"A]\n\n[Answer B]\n{comparison.second}\n[End of answer B]\n\n"
            + (ASK_JSON if as_json else ASK_LETTER))
    return [{"role": "system", "content": SYSTEM.format(rubric=rubric.strip())},
            {"role": "user", "content": user}]


def parse_verdict(text: str) -> str | None:
    """FIRST, SECOND or TIE from a strict JSON reply (a fenced code block is unwrapped), or None.
    Anything else — prose, two objects, another key, "C" — is unparseable, never guessed."""
    body = text.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", body, flags=re.DOTALL)
    if fenced:
        body = fenced.group(1)
    try:
        value = json.loads(body)
    except ValueError:
        return None
    if not isinstance(value, dict) or set(value) != {"winner"}:
        return None
    winner = value["winner"]
    if not isinstance(winner, str):
        return None
    return {"a": FIRST, "b": SECOND, "tie": TIE}.get(winner.strip().lower())


@dataclass(frozen=True)
class JudgeReply:
    verdict: str | None  # FIRST, SECOND, TIE, or None (unparseable)
    raw: str             # the reply as given (JSON judge) or the two log-probs (log-prob judge)

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "raw": self.raw}


class Judge:
    """Judges comparisons with the backend of `system` (a judge is served like any system)."""

    def __init__(self, system: Any, pool: Any, rubric: str, *, max_new_tokens: int = 32,
                 json_retries: int = 2) -> None:
        self.backend = pool.backend(system)
        self.pool = pool
        self.rubric = rubric
        self.max_new_tokens = max_new_tokens
        self.json_retries = json_retries
        self.mode = "logprobs" if self.backend.scores_logprobs else "json"

    def identity(self) -> dict[str, Any]:
        return {"backend": self.backend.identity(), "mode": self.mode,
                "rubric": self.rubric, "version": JUDGE_VERSION}

    def describe(self) -> dict[str, Any]:
        return {**self.backend.describe(), "mode": self.mode}

    def judge(self, comparisons: Sequence[Comparison],
              on_done: Callable[[int], None] | None = None) -> list[JudgeReply]:
        """A reply per comparison, from the cache where this judge saw it before."""
        from evalgate.eval.cache import Cache

        identity = sha256_json(self.identity())
        keys = [sha256_json({"judge": identity, "comparison": c.key}) for c in comparisons]
        with Cache.open(self.pool.project.cache_path) as cache:
            stored = cache.get_measurements(keys)
            todo = [i for i, key in enumerate(keys) if key not in stored]
            if on_done is not None and len(keys) - len(todo):
                on_done(len(keys) - len(todo))
            fresh: dict[int, JudgeReply] = {}

            def keep(index: int, reply: JudgeReply) -> None:
                fresh[todo[index]] = reply
                cache.put_measurements(CACHE_KIND, [(keys[todo[index]], reply.to_json())])
                if on_done is not None:
                    on_done(1)

            if todo:
                asked = [comparisons[i] for i in todo]
                if self.mode == "logprobs":
                    self._by_logprobs(asked, keep)
                else:
                    self._by_json(asked, keep)
        return [fresh[i] if i in fresh else JudgeReply(**stored[keys[i]])
                for i in range(len(comparisons))]

    def _by_logprobs(self, comparisons: Sequence[Comparison],
                     keep: Callable[[int, JudgeReply], None]) -> None:
        engine = self.backend.engine()
        prompts = [self.backend.render(judge_messages(self.rubric, c, as_json=False))
                   for c in comparisons]
        # In slices, so each verdict is cached as its slice finishes (an interrupted run keeps
        # what it judged); the engine batches within a slice.
        step = 32
        for start in range(0, len(prompts), step):
            chunk = prompts[start:start + step]
            results = engine.loglikelihood([(p, letter) for p in chunk for letter in ("A", "B")])
            for offset in range(len(chunk)):
                a, b = results[2 * offset][0], results[2 * offset + 1][0]
                verdict = FIRST if a > b else SECOND if b > a else TIE
                keep(start + offset, JudgeReply(verdict, f"logprob A {a:.4f} B {b:.4f}"))

    def _by_json(self, comparisons: Sequence[Comparison],
                 keep: Callable[[int, JudgeReply], None]) -> None:
        from evalgate.models.engine import GenerationParams

        params = GenerationParams(max_new_tokens=self.max_new_tokens)
        conversations = [judge_messages(self.rubric, c, as_json=True) for c in comparisons]
        pending = list(range(len(conversations)))
        replies: dict[int, list[str]] = {i: [] for i in pending}
        for attempt in range(self.json_retries + 1):
            if not pending:
                break
            asked = [conversations[i] if attempt == 0 else
                     [*conversations[i], {"role": "assistant", "content": replies[i][-1]},
                      {"role": "user", "content": REMINDER}] for i in pending]
            outputs = self.backend.generate([self.backend.render(m) for m in asked], params)
            still = []
            for index, output in zip(pending, outputs):
                replies[index].append(output.text)
                verdict = parse_verdict(output.text)
                if verdict is not None or attempt == self.json_retries:
                    keep(index, JudgeReply(verdict, " | ".join(replies[index])[:500]))
                else:
                    still.append(index)
            pending = still
