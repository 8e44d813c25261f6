"""Which process writes, and waiting for it: `evalgate train` under `accelerate launch`.

`accelerate launch --num_processes N -m evalgate.cli.main train …` (torchrun underneath) starts N
copies of the command. Each plans the same run and trains a replica: TRL's trainers are
accelerate Trainers, so they shard every batch across the processes and average the gradients
(DDP), and only the main process saves their checkpoints (`should_save`). What evalgate writes
itself (the run folder, the pairs, a finished stage's adapter, manifest.json, the alias) is
written by the main process alone (global rank 0); the others wait at a barrier and then read
what it wrote, so every process goes on from the same files and each file is written once.

Planning needs no coordination: it only reads, and its one shared cache (converted models, file
hashes; `models.resolve`) is already safe for concurrent processes.

Whether the command was launched is read from the environment the launcher sets (`WORLD_SIZE`,
or an MPI launcher's equivalent), so a plain `evalgate train` never creates a process group or
any accelerate state: the single-process path is what it was.

All processes must see the same project folder (one machine, or a shared file system across
nodes): the others read what the main process wrote.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import timedelta

from evalgate.errors import RunError

# Variables a launcher sets: torchrun / accelerate first, then MPI (accelerate's multi-CPU path).
_SIZE = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
_RANK = ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK")

# How long a barrier may wait. The longest stretch the others wait through is the main process
# generating the DPO pairs with the engine (every pool prompt answered once); NCCL's default of
# ten minutes would end a large run there. A crashed process does not hang the rest this long:
# the launcher stops every process as soon as one exits with an error.
BARRIER_TIMEOUT = timedelta(hours=2)


def _env_int(names: tuple[str, ...], default: int) -> int:
    for name in names:
        value = os.environ.get(name, "").strip()
        if value.isdigit():
            return int(value)
    return default


def _group() -> bool:
    """Is a torch.distributed process group up (ours, or one the caller made)?"""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """How many processes train this run: the process group's size, else the launcher's."""
    if _group():
        import torch.distributed as dist

        return dist.get_world_size()
    return max(_env_int(_SIZE, 1), 1)


def is_main() -> bool:
    """True in the process that writes (global rank 0), and always without a launcher. Read from
    the launcher's environment before the process group exists (the CLI asks before planning)."""
    if _group():
        import torch.distributed as dist

        return dist.get_rank() == 0
    return _env_int(_RANK, 0) == 0


def local_device(device: str) -> str:
    """Under a multi-process launch every process trains on its own GPU: plain `cuda` becomes
    `cuda:<LOCAL_RANK>`. Without it all of them would load onto GPU 0, and the Trainer, seeing
    the model on another device than its own, would treat it as model-parallel and not move it.
    A CPU device, an explicit index and a single process are left as they are."""
    if device != "cuda" or world_size() <= 1:
        return device
    return f"cuda:{_env_int(('LOCAL_RANK',), 0)}"


def start(cpu: bool) -> None:
    """Join the launcher's process group (once; nothing without a launcher). `cpu` picks the
    backend as the trainers will (gloo on CPU, NCCL on CUDA); accelerate's PartialState does the
    joining, so MPI launchers and the CUDA device of each process are handled as accelerate does.
    The group outlives the PartialState the trainers reset, and the barriers below use it."""
    if world_size() <= 1 or _group():
        return
    from accelerate import PartialState

    PartialState(cpu=cpu, timeout=BARRIER_TIMEOUT)
    if not _group():
        raise RunError(f"launched as {world_size()} processes but no process group formed "
                       f"({'cpu' if cpu else 'cuda'} training); with GPUs, check that each "
                       "process sees one (CUDA_VISIBLE_DEVICES), or launch one process")


def wait_for_everyone() -> None:
    """A barrier: every process gets here before any goes on (a no-op in a single process)."""
    if _group() and world_size() > 1:
        import torch.distributed as dist

        dist.barrier()


@contextlib.contextmanager
def main_first() -> Iterator[None]:
    """The main process runs the block first (writing what it builds); the others wait, then run
    it too and find those files to read back. If the main process fails inside, it exits and the
    launcher stops the others waiting here."""
    main = is_main()
    if not main:
        wait_for_everyone()
    yield
    if main:
        wait_for_everyone()


def finish() -> None:
    """Leave the process group after the last barrier (torch warns at exit otherwise)."""
    if _group():
        import torch.distributed as dist

        dist.destroy_process_group()
