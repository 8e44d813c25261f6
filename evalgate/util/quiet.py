"""Keep the user's output to evalgate's own words while models load, generate and train.

The ML libraries talk a lot on the way: bitsandbytes logs "Failed to load CPU gemm_4bit_forward
from kernels-community" when peft imports it (a missing optional kernel, not a failure),
transformers and TRL emit FutureWarnings and log about defaults evalgate sets on purpose, datasets
draws map progress bars. None of it is something an evalgate user can act on. What stays:
anything logged at ERROR or above, and every exception (the libraries raise their errors, and
evalgate turns them into messages that say what to change).

`quiet_libraries()` is called before evalgate loads a model (`models.loading.load_model`) and
before training (`train.run.execute`); calling it again is harmless. An explicit
`TRANSFORMERS_VERBOSITY` / `DATASETS_VERBOSITY` in the environment wins, so the libraries can
still be made to talk while debugging.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

# Libraries whose warnings are about their own internals or our deliberate settings.
LIBRARIES = ("transformers", "trl", "peft", "accelerate", "bitsandbytes", "datasets", "torch",
             "huggingface_hub", "tokenizers", "safetensors")
_WARNING_MODULES = rf"({'|'.join(LIBRARIES)})(\..*)?$"
# A library's FutureWarning about how evalgate calls it is attributed (stacklevel) to evalgate.
_OWN_MODULES = r"evalgate(\..*)?$"
_VERBOSITY_ENV = {"transformers": "TRANSFORMERS_VERBOSITY", "datasets": "DATASETS_VERBOSITY"}


def quiet_libraries() -> None:
    """Raise the libraries' log levels to ERROR and drop their warnings; set before they import
    where possible (bitsandbytes logs while being imported), applied directly where they have."""
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    for name in LIBRARIES:
        variable = _VERBOSITY_ENV.get(name)
        if variable is not None:
            if os.environ.get(variable):
                continue  # the user asked for this library's verbosity
            os.environ[variable] = "error"  # read when the library configures its logger
        logging.getLogger(name).setLevel(logging.ERROR)
    if "datasets" in sys.modules and os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] == "1":
        sys.modules["datasets"].disable_progress_bars()  # imported before the variable was set
    for category in (FutureWarning, DeprecationWarning, PendingDeprecationWarning, UserWarning):
        warnings.filterwarnings("ignore", category=category, module=_WARNING_MODULES)
    for category in (FutureWarning, DeprecationWarning, PendingDeprecationWarning):
        warnings.filterwarnings("ignore", category=category, module=_OWN_MODULES)
