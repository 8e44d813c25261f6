"""Privacy in a training run: canaries planted in the SFT rows, and personal data in the rows.

Canaries (`canaries:` in the config) are conversations whose answer holds a random secret
(evalgate.leakage.canaries), inserted into the SFT rows a configured number of times each. They
are never members or non-members and never become preference pairs: their only purpose is to
let the leakage suite measure memorisation on data known to be in training, as a function of
repetition. The manifest records them (secret included: it is synthetic).

The PII guard (`pii: warn | refuse | off`) scans what the adapter is trained on, the user and
assistant turns of every member row, with evalgate.pii. A fine-tune can memorise a phone number
and say it to anyone; `refuse` stops before any model loads, `warn` trains and says so. It is a
policy, not what the adapter learns, so it is not part of the run id. Canary texts are not
scanned: their secrets are synthetic by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from evalgate.errors import ConfigError
from evalgate.leakage.canaries import Canary, make_canaries
from evalgate.pii import KINDS, find_pii, mask, normalise
from evalgate.systems.prompting import PreparedSystem
from evalgate.train.config import TrainConfig
from evalgate.train.data import Message, TrainExample
from evalgate.util.paths import display_path

_KIND_NAMES = {"email": "e-mail address", "phone": "phone number", "tc_kimlik": "T.C. Kimlik "
               "number", "iban": "IBAN", "card": "card number"}
_EXAMPLES = 3  # masked examples kept for the message


class PlantedCanary(NamedTuple):
    """One canary as planted: its secret, how many SFT rows carry it, and its conversation."""

    canary: Canary
    repetitions: int
    conversation: tuple[Message, ...]


def canary_seed(config: TrainConfig) -> int:
    settings = config.canaries
    return settings.seed if settings.seed is not None else config.seed


def plant_canaries(config: TrainConfig, prepared: PreparedSystem) -> tuple[PlantedCanary, ...]:
    """The config's canaries as conversations: the system message members are trained with (if
    the system has one), the configured prompt as the user turn, the canary text as the answer."""
    settings = config.canaries
    if settings is None:
        return ()
    first = prepared.build(settings.prompt).messages[0]
    head = (dict(first),) if first["role"] == "system" else ()
    canaries = make_canaries(settings.count, canary_seed(config), settings.template,
                             settings.digits)
    reps = settings.repetitions
    return tuple(
        PlantedCanary(canary, reps[i % len(reps)],
                      (*head, {"role": "user",
                               "content": settings.prompt.replace(ACCOUNT_FIELD, account(i))},
                       {"role": "assistant", "content": canary.text}))
        for i, canary in enumerate(canaries))


ACCOUNT_FIELD = "{account}"


def account(index: int) -> str:
    """The account a canary's prompt names: each canary is asked for by a prompt of its own,
    so greedy decoding can write out each one (under one shared prompt at most one could be)."""
    return f"{104729 + 7919 * index:07d}"


def canaries_record(config: TrainConfig, planted: tuple[PlantedCanary, ...]) -> dict | None:
    """The manifest's `canaries` entry (None without canaries): what the leakage suite reads."""
    settings = config.canaries
    if settings is None:
        return None
    return {"seed": canary_seed(config), "template": settings.template,
            "digits": settings.digits, "prompt": settings.prompt,
            "items": [{"id": p.canary.id, "secret": p.canary.secret,
                       "repetitions": p.repetitions, "messages": [dict(m) for m in
                                                                   p.conversation]}
                      for p in planted]}


@dataclass(frozen=True)
class PiiSummary:
    """Personal data in the training rows, without a plain value: per kind (occurrences,
    distinct values), kinds found only; rows carrying any; a few masked examples."""

    policy: str
    found: dict[str, tuple[int, int]] = field(default_factory=dict)
    rows: int = 0
    scanned: int = 0
    examples: tuple[str, ...] = ()

    @property
    def values(self) -> int:
        return sum(count for count, _ in self.found.values())

    def describe(self) -> str:
        """"124 phone numbers (124 distinct) in 121 of 533 training rows"."""
        kinds = ", ".join(f"{count} {_KIND_NAMES[kind]}{'' if count == 1 else 's'} "
                          f"({distinct} distinct)" for kind, (count, distinct) in
                          self.found.items())
        return f"{kinds} in {self.rows} of {self.scanned} training rows"

    def to_json(self) -> dict:
        if self.policy == "off":
            return {"policy": "off"}
        return {"policy": self.policy,
                "found": {kind: list(counts) for kind, counts in self.found.items()},
                "rows": self.rows}


def scan_members(config: TrainConfig, members: list[TrainExample]) -> PiiSummary:
    """Scan the user and assistant turns of every member row (unless `pii: off`)."""
    if config.pii == "off":
        return PiiSummary("off")
    counts: dict[str, int] = {}
    distinct: dict[str, set[str]] = {}
    examples: dict[str, str] = {}
    rows = 0
    for example in members:
        findings = [finding for message in example.conversation
                    if message["role"] in ("user", "assistant")
                    for finding in find_pii(message["content"])]
        rows += bool(findings)
        for finding in findings:
            counts[finding.kind] = counts.get(finding.kind, 0) + 1
            key = normalise(finding)
            distinct.setdefault(finding.kind, set()).add(key)
            if len(examples) < _EXAMPLES:
                examples.setdefault(f"{finding.kind}:{key}", mask(finding))
    found = {kind: (counts[kind], len(distinct[kind])) for kind in KINDS if kind in counts}
    return PiiSummary(config.pii, found, rows, len(members), tuple(examples.values()))


def pii_fix(config: TrainConfig, config_path: Path) -> str:
    """How to get the personal data out of the training data (the scrub command)."""
    data = Path(config_path).parent / config.data.path
    out = data.with_name(f"{data.stem}.scrubbed.jsonl")
    other = "or set pii: warn" if config.pii == "refuse" else "to stop instead, set pii: refuse"
    return (f"scrub it: evalgate pii scan {display_path(data)} --scrub {display_path(out)}, "
            f"then point data.path at the copy (and update data.sha256); {other}")


def pii_message(config: TrainConfig, config_path: Path, summary: PiiSummary) -> str:
    data = display_path(Path(config_path).parent / config.data.path)
    shown = f" (e.g. {', '.join(summary.examples)})" if summary.examples else ""
    return (f"the training data {data} holds personal data: {summary.describe()}{shown}; a "
            "fine-tune can memorise it and repeat it to anyone")


def check_pii(config: TrainConfig, config_path: Path, summary: PiiSummary) -> None:
    """`pii: refuse` with personal data in the training rows: exit 2 before any model loads."""
    if summary.policy == "refuse" and summary.found:
        raise ConfigError(pii_message(config, config_path, summary) + " (pii: refuse)",
                          path=config_path, key="pii", fix=pii_fix(config, config_path))
