"""Which rows share a forward pass: admission into the running batch, and scoring batches.

Both jobs fill batches under the same two limits, `token_budget` padded tokens per forward pass
and `max_batch` rows, and both take rows longest first so that rows of similar length share a
batch and pad little. Generation admits waiting prompts into a batch that is already decoding
(continuous batching), but only in groups worth a prefill pass and a copy of the whole cache:
newcomers join once a quarter of the slots are free and only when they make up at least a
quarter of the batch they join. Scoring keeps sequences that share a long prefix (few-shot
examples, a subject header) in one batch, so that the prefix is computed once.

The decisions live here, apart from the tensors (kv_cache.py) and the loops (generate.py,
score.py), so they can be read and tested on plain token-id lists; nothing here imports torch.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

# Largest number of (row, position) logits materialised at once when scoring: bounds the
# memory of the [rows, positions, vocab] float tensor (1,024 × 49k vocab × 4 B ≈ 200 MB).
LOGIT_POSITIONS = 1024
# What one more forward pass costs beyond its tokens, counted in tokens, when scoring batches are
# cut (`BatchPolicy.partition`): ~15 kernel launches per layer, small matmuls running below peak,
# seeding the batch's KV cache with a shared prefix. On the 2-core reference machine that is
# ~20-45 ms for the embedded model, ~30-60 tokens' worth at ~1,300 tokens/s in bf16. It only
# tips the balance against slivers that save a few padding tokens.
PASS_OVERHEAD_TOKENS = 64


@dataclass
class Row:
    """One prompt being generated: its index in the caller's list, its ids, its new tokens."""

    index: int
    prompt: list[int]
    tokens: list[int]


@dataclass
class Running:
    """The batch being decoded: its rows, KV cache and per-row mask and positions.

    All rows share the cache's column layout: `length` columns are filled, and row b's real
    tokens start at column `starts[b]` (columns before are padding, masked out).
    """

    rows: list[Row]
    cache: Any
    mask: Any  # [rows, capacity] long, 1 where a column holds one of the row's tokens
    positions: Any  # [rows, 1] position of each row's last fed token
    next_ids: Any  # [rows] token each row feeds next
    length: int
    starts: list[int]

    @property
    def width(self) -> int:
        """Columns still in use by some row: what a merge has to carry over."""
        return self.length - min(self.starts)


@dataclass(frozen=True)
class BatchPolicy:
    """The limits and rules that decide which rows go into one forward pass.

    `refill` says the model's cache can rearrange KV columns (kv_cache.supports_growing_cache):
    without it there is no admission into a running batch and no shared prefix.
    """

    token_budget: int
    max_batch: int
    refill: bool
    min_shared_prefix: int
    refill_divisor: int

    def admit(
        self, pending: collections.deque[Row], running: Running | None, max_new: int
    ) -> list[Row]:
        """Rows to prefill now: as many as slots and the token budget allow, but none while the
        batch is more than 3/4 full or the newcomers would be under a quarter of it (a merge
        copies the whole cache, so it is worth doing for several rows at once). An idle engine
        always takes at least one row."""
        size = len(running.rows) if running is not None else 0
        if running is not None and (
            not self.refill or self.max_batch - size < max(1, self.max_batch // self.refill_divisor)
        ):
            return []
        width = running.width if running is not None else 0
        group: list[Row] = []
        shared = 0  # prefix common to the group so far: computed once, so counted once
        while pending and size + len(group) < self.max_batch:
            candidate = pending[0]
            # `pending` is sorted longest first: the group is as wide as its first prompt.
            longest = max(width, len((group[0] if group else candidate).prompt))
            if self.refill:
                first = group[0].prompt if group else candidate.prompt
                common = common_prefix([first, candidate.prompt])
                shared = common if not group else min(shared, common)
                if shared < self.min_shared_prefix:
                    shared = 0
            rows = size + len(group) + 1
            over = shared + rows * (longest - shared + max_new) > self.token_budget
            if over and (group or running is not None):
                break
            group.append(pending.popleft())
        # When the token budget, not max_batch, bounds the batch, a single finished row would
        # otherwise let one prompt in at a time: a prefill pass and a copy of the whole cache per
        # row. Wait until the newcomers are at least a quarter of the batch they join.
        if running is not None and len(group) < max(1, (size + len(group)) // self.refill_divisor):
            pending.extendleft(reversed(group))
            return []
        return group

    def shareable(self, rows: list[list[int]], needs: list[int]) -> int:
        """Length of the prefix worth computing once for `rows` (0 when too short to bother):
        common to all rows, and leaving each row's last `needs[i]` positions to the batch pass."""
        if not self.refill or len(rows) < 2:
            return 0
        shared = min(common_prefix(rows), min(len(r) - n for r, n in zip(rows, needs)))
        return shared if shared >= self.min_shared_prefix else 0

    def scoring_batches(
        self, seqs: list[list[int]], logit_rows: list[int] | None = None
    ) -> Iterator[list[int]]:
        """Batches of indices into `seqs`: runs of sequences that share a long prefix (few-shot
        examples, a subject header) are batched together so the prefix is computed once per batch;
        within a run, and among the rest, sorted longest first and cut where the padded tokens
        computed (plus a per-pass overhead) are fewest (`partition`).

        Scoring lengths are skewed (MMLU zero-shot: median 84 tokens, a few over 1,000), and
        filling each batch to the token budget in turn pads the long rows heavily: the first
        batch of PERFORMANCE.md's 570 questions held 7 rows 1,033 wide for 4,153 real tokens,
        and attention grows with the square of the width. Cut where the lengths drop, those
        questions take 34 passes instead of 12 but 57.9k tokens instead of 66.7k, and the
        bf16 scoring time fell by a quarter to a third (bench/bench_mmlu.py)."""
        for group in self.prefix_runs(seqs):
            group.sort(key=lambda i: (-len(seqs[i]), i))
            needs = [logit_rows[i] for i in group] if logit_rows is not None else None
            rows = [seqs[i] for i in group]
            shared = common_prefix(rows) if self.refill and len(rows) > 1 else 0
            shared = shared if shared >= self.min_shared_prefix else 0
            for chunk in self.partition([len(r) for r in rows], needs, shared=shared):
                yield [group[k] for k in chunk]

    def prefix_runs(self, seqs: list[list[int]]) -> list[list[int]]:
        """Split indices into runs of sequences (in sorted order) that share a prefix of at least
        `min_shared_prefix` tokens; a run ends where the shared part would fall below half of what
        the run shares so far (so a 500-token few-shot prefix is not diluted to a 10-token header).
        Sequences sharing nothing worth it form the last run."""
        if not self.refill or len(seqs) < 2:
            return [list(range(len(seqs)))]
        order = sorted(range(len(seqs)), key=lambda i: seqs[i])
        runs: list[list[int]] = [[order[0]]]
        shared = len(seqs[order[0]])
        for previous, index in itertools.pairwise(order):
            adjacent = common_prefix([seqs[previous], seqs[index]])
            if adjacent >= self.min_shared_prefix and (
                len(runs[-1]) == 1 or 2 * adjacent >= shared
            ):
                runs[-1].append(index)
                shared = min(shared, adjacent)
            else:
                runs.append([index])
                shared = len(seqs[index])
        rest = [i for run in runs if len(run) == 1 for i in run]
        return [run for run in runs if len(run) > 1] + ([rest] if rest else [])

    def batches(
        self, lengths: Sequence[int], logit_rows: Sequence[int] | None = None
    ) -> Iterator[list[int]]:
        """Split positions 0..n-1 (items already sorted longest first) into consecutive batches.

        A batch holds at most `max_batch` rows and `rows × longest` ≤ `token_budget` padded
        tokens; with `logit_rows`, also `rows × most logit positions` ≤ LOGIT_POSITIONS. A single
        item over budget still forms its own batch.
        """
        batch: list[int] = []
        width = logit_width = 0
        for k, length in enumerate(lengths):
            need = logit_rows[k] if logit_rows is not None else 0
            rows = len(batch) + 1
            new_width, new_logit_width = max(width, length), max(logit_width, need)
            if batch and (
                rows > self.max_batch
                or rows * new_width > self.token_budget
                or rows * new_logit_width > LOGIT_POSITIONS
            ):
                yield batch
                batch, new_width, new_logit_width = [], length, need
            batch.append(k)
            width, logit_width = new_width, new_logit_width
        if batch:
            yield batch

    def partition(
        self,
        lengths: Sequence[int],
        logit_rows: Sequence[int] | None = None,
        *,
        shared: int = 0,
        overhead: int = PASS_OVERHEAD_TOKENS,
    ) -> list[list[int]]:
        """Split positions 0..n-1 (items sorted longest first) into consecutive batches under the
        limits of `batches`, choosing the cuts that minimise the tokens computed: per batch
        rows × (longest − shared) padded tokens (the `shared` prefix is computed once and its
        KV copied to every row of a batch of two or more), plus `overhead` tokens per pass.

        Exact, by dynamic programming over the cut points (n × max rows per batch steps): the
        batches `batches` fills greedily to the budget in turn can pad long, skewed rows by a
        third or more, while a cut where the lengths drop costs one more pass.
        """
        n = len(lengths)
        best = [0.0] + [float("inf")] * n  # best[j]: cheapest cost of items 0..j-1
        cut = [0] * (n + 1)
        for j in range(1, n + 1):
            logit_width = 0
            for i in range(j - 1, max(-1, j - 1 - self.max_batch), -1):
                rows, width = j - i, lengths[i]  # longest first: item i is the widest
                if logit_rows is not None:
                    logit_width = max(logit_width, logit_rows[i])
                if rows > 1 and (
                    rows * width > self.token_budget or rows * logit_width > LOGIT_POSITIONS
                ):
                    break  # adding longer items only makes the batch bigger
                prefix = min(shared, width) if rows > 1 else 0
                cost = best[i] + rows * (width - prefix) + overhead
                if cost < best[j]:
                    best[j], cut[j] = cost, i
        out: list[list[int]] = []
        j = n
        while j > 0:
            out.append(list(range(cut[j], j)))
            j = cut[j]
        return out[::-1]


def common_prefix(sequences: Iterable[list[int]]) -> int:
    """Length of the longest token prefix shared by all sequences."""
    iterator = iter(sequences)
    first = next(iterator, [])
    length = len(first)
    for seq in iterator:
        limit = min(length, len(seq))
        k = 0
        while k < limit and seq[k] == first[k]:
            k += 1
        length = k
    return length
