"""Training: LoRA/QLoRA SFT, then DPO (or KTO) on the SFT adapter, on TRL + PEFT + bitsandbytes.

    training_configs(project, given) -> [Path]      the given configs, else training/*.yaml
    plan_run(config_path, project) -> TrainPlan    every guard; no model loaded, nothing written
    execute(plan, resume=..., restart=...)         -> TrainOutcome (adapters/<run-id>/ + manifest)

Modules: config (the YAML), data (rows, prompts, guards), tokens (ids and loss masks), pairs
(on-policy negatives), sft and preference (the TRL stages), runtime (hardware, shared TRL
arguments, saving), callbacks (progress, graceful Ctrl-C), privacy (canaries planted in the SFT
rows, the PII guard), manifest, plan, run.
"""

import logging


class _DropKnownNoise(logging.Filter):
    """bitsandbytes warns at import on CPUs with bf16 that an optional faster kernel package is
    absent; it then uses its built-in path, which works. Only that message is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Failed to load CPU gemm_4bit_forward")


logging.getLogger("bitsandbytes.backends.cpu.ops").addFilter(_DropKnownNoise())

from evalgate.train.callbacks import Interrupted  # noqa: E402
from evalgate.train.config import TrainConfig, load_train_config  # noqa: E402
from evalgate.train.plan import TrainPlan, plan_run, training_configs  # noqa: E402
from evalgate.train.run import TrainOutcome, execute  # noqa: E402

__all__ = ["Interrupted", "TrainConfig", "TrainOutcome", "TrainPlan", "execute",
           "load_train_config", "plan_run", "training_configs"]
