"""How scoring batches are cut (fewest tokens computed under the engine's limits) and the
tokenization shortcuts of `Engine.loglikelihood`; results must not depend on either.

Nothing here measures time: bench/bench_mmlu.py does, as a ratio against lm-eval in one run.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from evalgate.models import Engine, ModelSettings, load_model, resolve_model
from evalgate.models.engine.batching import LOGIT_POSITIONS, BatchPolicy


def policy(token_budget: int = 8192, max_batch: int = 64, refill: bool = True) -> BatchPolicy:
    return BatchPolicy(token_budget=token_budget, max_batch=max_batch, refill=refill,
                       min_shared_prefix=8, refill_divisor=4)


def cost(lengths: list[int], batches: list[list[int]], shared: int = 0,
         overhead: int = 64) -> int:
    total = 0
    for batch in batches:
        width = lengths[batch[0]]
        prefix = min(shared, width) if len(batch) > 1 else 0
        total += len(batch) * (width - prefix) + overhead
    return total


def fits(lengths: list[int], batch: list[int], rules: BatchPolicy,
         needs: list[int] | None = None) -> bool:
    if len(batch) == 1:
        return True
    most_logits = max(needs[k] for k in batch) if needs is not None else 0
    return (len(batch) <= rules.max_batch
            and len(batch) * lengths[batch[0]] <= rules.token_budget
            and len(batch) * most_logits <= LOGIT_POSITIONS)


def all_cuts(n: int):
    for mask in itertools.product([False, True], repeat=n - 1):
        batches, current = [], [0]
        for k, cut in enumerate(mask, start=1):
            if cut:
                batches.append(current)
                current = []
            current.append(k)
        yield batches + [current]


def test_partition_covers_every_item_once_in_order_within_the_limits():
    rng = random.Random(0)
    lengths = sorted((rng.choice([40, 60, 80, 120, 300, 1000]) + rng.randrange(20)
                      for _ in range(300)), reverse=True)
    needs = [rng.randrange(1, 30) for _ in lengths]
    rules = policy(token_budget=2048, max_batch=16)
    batches = rules.partition(lengths, needs)
    assert [k for batch in batches for k in batch] == list(range(len(lengths)))
    assert all(fits(lengths, batch, rules, needs) for batch in batches)


@pytest.mark.parametrize("seed", range(12))
def test_partition_is_the_cheapest_cut(seed: int):
    rng = random.Random(seed)
    lengths = sorted((rng.randrange(5, 400) for _ in range(rng.randrange(1, 10))), reverse=True)
    shared = rng.choice([0, 0, 10])
    rules = policy(token_budget=rng.choice([256, 600, 4096]), max_batch=rng.choice([2, 3, 64]))
    got = rules.partition(lengths, shared=shared)
    assert all(fits(lengths, batch, rules) for batch in got)
    feasible = [cut for cut in all_cuts(len(lengths))
                if all(fits(lengths, batch, rules) for batch in cut)]
    assert cost(lengths, got, shared) == min(cost(lengths, cut, shared) for cut in feasible)


def test_an_item_over_the_budget_is_a_batch_of_its_own():
    assert policy(token_budget=100).partition([500, 90, 80]) == [[0], [1], [2]]


def test_skewed_lengths_are_padded_less_than_filling_each_batch_in_turn():
    """MMLU zero-shot: a few long prompts, most short. Filling batches to the budget in turn put
    a 1,033-token prompt with six of ~450-700 tokens; the partition cuts where lengths drop."""
    rng = random.Random(1)
    lengths = sorted([1033, 700, 620, 546, 526, 480, 416] + [rng.randrange(38, 300)
                                                            for _ in range(400)], reverse=True)
    rules = policy()
    greedy = list(rules.batches(lengths))
    cut = rules.partition(lengths)

    def padded(batches):
        return sum(len(b) * lengths[b[0]] for b in batches)

    assert padded(cut) < padded(greedy)
    assert cost(lengths, cut) < cost(lengths, greedy)
    assert cut[0] == [0]  # the longest prompt pads nobody


def test_scoring_batches_keep_prefix_runs_and_cover_everything():
    header = [7] * 12
    seqs = [header + [i % 5 + 1] * (10 + (i * 37) % 200) for i in range(100)]
    seqs += [[9, i] for i in range(5)]  # sharing nothing with the rest
    batches = list(policy(token_budget=1024, max_batch=16).scoring_batches(seqs))
    assert sorted(k for batch in batches for k in batch) == list(range(len(seqs)))
    for batch in batches:
        widths = [len(seqs[k]) for k in batch]
        assert widths == sorted(widths, reverse=True)
        assert len(batch) == 1 or len(batch) * widths[0] <= 1024
        assert len({k >= 100 for k in batch}) == 1  # runs are not mixed


# -- tokenization shortcuts, on the tiny model -------------------------------------------------


@pytest.fixture(scope="module")
def engine(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    resolved = resolve_model(str(tiny_model_dir), tmp_path_factory.mktemp("cache"))
    loaded = load_model(resolved, ModelSettings(dtype="float32", device="cpu"))
    return Engine(loaded, token_budget=256, max_batch=4)


def test_encode_many_equals_encode(engine: Engine):
    texts = ["", "hello", " A", "Question: abc\nAnswer:", "Siparişim ORD-654321", "hello"]
    assert engine.encode_many(texts) == [engine.encode(t) for t in texts]
    assert engine.encode_many([]) == []


def test_repeated_texts_score_as_when_sent_alone(engine: Engine):
    contexts = [f"Question {i}: " + "word " * (3 + 7 * i) + "\nAnswer:" for i in range(6)]
    letters = ["A", "B", "C", "D"]
    requests = [(c, x) for c in contexts for x in letters] + [(contexts[0], " and more")]
    together = engine.loglikelihood(requests)
    alone = [engine.loglikelihood([request])[0] for request in requests]
    for (a, a_greedy), (b, b_greedy) in zip(together, alone):
        assert a == pytest.approx(b, abs=1e-4)
        assert a_greedy == b_greedy
    assert len({round(v, 3) for v, _ in together[:4]}) > 1  # the letters score differently
