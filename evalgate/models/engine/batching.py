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
        within a run, and among the rest, longest first to keep padding low."""
        for group in self.prefix_runs(seqs):
            group.sort(key=lambda i: (-len(seqs[i]), i))
            needs = [logit_rows[i] for i in group] if logit_rows is not None else None
            for chunk in self.batches([len(seqs[i]) for i in group], needs):
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
