"""Members and non-members of a trained adapter, as token ids, from its training manifest.

The manifest names the training config, the pool's hash and both id lists (members: trained
on; non-members: the held-out split of the same pool). The pool is rebuilt exactly as the
trainer built it (same system prompt, same chat template) and each record tokenised as the
trainer tokenised it (`ChatTokens.sft_tokens`); what is scored is the span the trainer put loss
on (the assistant turn through its end token), each token given everything before it.
Non-members that are exact or near duplicates of a sampled member are dropped: the split must
compare seen with unseen text, not two copies of one text.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalgate.errors import ConfigError
from evalgate.leakage.canaries import Canary
from evalgate.train.privacy import PlantedCanary
from evalgate.train.data import IGNORE
from evalgate.util.overlap import exact_overlap, near_duplicates


@dataclass(frozen=True)
class TrainingRecord:
    id: str
    member: bool
    ids: tuple[int, ...]
    scored: int  # the final `scored` tokens carried loss in training
    text: str  # the scored span as text (zlib's reference)


@dataclass(frozen=True)
class RecordSet:
    records: tuple[TrainingRecord, ...]
    members_total: int
    non_members_total: int
    dropped_near_duplicates: tuple[str, ...]
    data_sha256: str
    run_id: str
    # Normalised PII values (evalgate.pii.normalise) found in any trained record's text: what
    # the fine-tune could have memorised and must not write out.
    member_pii: frozenset[str] = frozenset()
    canaries: tuple[PlantedCanary, ...] = ()
    canary_seed: int = 0

    @property
    def members(self) -> list[TrainingRecord]:
        return [r for r in self.records if r.member]

    @property
    def non_members(self) -> list[TrainingRecord]:
        return [r for r in self.records if not r.member]


def training_records(project: Any, manifest: Any, model_path: Path, sample: int,
                     seed: int) -> RecordSet:
    """A seeded sample of `sample` members and every non-member of the adapter's training run,
    tokenised as trained."""
    from evalgate.suite import load_suite
    from evalgate.systems import load_system
    from evalgate.train.config import load_train_config
    from evalgate.train.data import load_pool
    from evalgate.train.tokens import ChatTokens

    data = manifest.raw.get("data") or {}
    if "members" not in data or "non_members" not in data:
        raise ConfigError("the training manifest names no member / non-member split",
                          path=manifest.path, key="data.members",
                          fix="re-train with this evalgate (manifests record both id lists)")
    config_path = project.root / manifest.raw["config_path"]
    if not config_path.is_file():
        raise ConfigError("the training config the adapter was trained with is gone",
                          path=config_path, fix="restore it: the leakage suite rebuilds the "
                                                "training records from it")
    config = load_train_config(config_path)
    system = load_system(config_path.parent / config.system)
    prepared = system.prepare(load_suite(config_path.parent / config.suite))
    pool = load_pool(config, config_path, prepared)
    if pool.dataset.sha256 != data.get("sha256"):
        raise ConfigError("the training data changed since the adapter was trained",
                          path=config_path, key="data.sha256",
                          fix="restore the data file the manifest pins, or re-train")
    missing = [i for i in [*data["members"], *data["non_members"]] if i not in pool.examples]
    if missing:
        raise ConfigError(f"manifest ids not in the training pool: {', '.join(missing[:5])}",
                          path=manifest.path, key="data", fix="re-train")
    members = list(data["members"])
    chosen = (members if sample >= len(members) else
              sorted(random.Random(f"evalgate-leakage:{seed}").sample(members, sample),
                     key=members.index))
    member_texts = [(i, pool.examples[i].text) for i in chosen]
    non_texts = [(i, pool.examples[i].text) for i in data["non_members"]]
    dropped = {left for left, _ in exact_overlap(non_texts, member_texts)}
    dropped |= {d.left_id for d in near_duplicates(non_texts, member_texts)}
    tokens = ChatTokens.load(model_path)
    records = []
    for member, ids_ in ((True, chosen), (False, [i for i in data["non_members"]
                                                  if i not in dropped])):
        for example_id in ids_:
            ids, labels = tokens.sft_tokens(pool.examples[example_id].conversation)
            first = next((k for k, label in enumerate(labels) if label != IGNORE), len(ids))
            scored = len(ids) - first
            records.append(TrainingRecord(
                id=example_id, member=member, ids=tuple(ids), scored=scored,
                text=tokens.tokenizer.decode(ids[first:], skip_special_tokens=False)))
    return RecordSet(tuple(records), len(members), len(data["non_members"]),
                     tuple(sorted(dropped)), str(data.get("sha256")), manifest.run_id,
                     member_pii=training_pii(pool.examples[i].conversation for i in members),
                     canaries=planted_canaries(manifest),
                     canary_seed=int((manifest.raw.get("canaries") or {}).get("seed") or 0))


def training_pii(conversations: Any) -> frozenset[str]:
    """Normalised PII values in the trained conversations (every message: a value the model
    read in a prompt can be written out later just as one it was taught to write)."""
    from evalgate.pii.detect import find_pii, normalise

    return frozenset(normalise(f) for messages in conversations for m in messages
                     for f in find_pii(str(m.get("content", ""))))


def planted_canaries(manifest: Any) -> tuple[PlantedCanary, ...]:
    """The canaries the manifest records (none for a run trained without `canaries:`)."""
    block = manifest.raw.get("canaries") or {}
    template = block.get("template")
    found = []
    for item in block.get("items") or []:
        messages = tuple(dict(m) for m in item["messages"])
        text = str(messages[-1]["content"])
        found.append(PlantedCanary(Canary(str(item["id"]), str(item["secret"]), text,
                                          str(template)), int(item["repetitions"]), messages))
    return tuple(found)
