#!/usr/bin/env bash
# Refresh requirements.lock from pyproject.toml (`make lock`).
#
# The lock holds every dependency, transitive ones included, at an exact version with the
# sha256 of each file, for CPython 3.10-3.13 on any platform (`uv pip compile --universal`).
# torch is the one exception: its CPU and CUDA builds are different files on different
# indexes, so scripts/setup.sh installs it first (CPU or CUDA, said when it runs) at the
# version named on the lock's `# torch==` line, and the lock holds torch's own dependencies
# (read from the installed torch) instead of torch itself.
#
#   make lock                        # same torch, newest releases of everything else
#   make lock TORCH_VERSION=2.14.0   # another torch (its CPU build is installed into .venv first)
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv}"
py="$venv/bin/python"
[ -x "$py" ] || { echo "no $venv yet: run 'make setup' first" >&2; exit 2; }
[ -x "$venv/bin/uv" ] && "$py" -c "import packaging" 2>/dev/null \
  || "$py" -m pip install -q --disable-pip-version-check "uv>=0.9" "packaging>=23"

current=$(sed -n 's/^# torch==\([^ ]*\).*/\1/p' requirements.lock 2>/dev/null || true)
torch_version="${TORCH_VERSION:-$current}"
[ -n "$torch_version" ] || { echo "set TORCH_VERSION=... (requirements.lock names none)" >&2; exit 2; }
installed=$("$py" -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null || true)
if [ "$installed" != "$torch_version" ]; then
  echo "==> installing torch==$torch_version (CPU build) to read its dependencies"
  bash scripts/install_torch.sh "$venv" cpu "$torch_version"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# torch's own requirements (its optional extras left out), so the lock pins them too.
"$py" - >"$work/torch-deps.in" <<'PY'
from importlib.metadata import requires
for requirement in requires("torch") or []:
    if "extra ==" not in requirement:
        print(requirement)
PY
# torch itself is resolved by setup.sh, never from this file.
echo 'torch ; sys_platform == "never"' >"$work/override.txt"

echo "==> resolving pyproject.toml [dev, dense] for CPython 3.10-3.13 (uv pip compile --universal)"
"$venv/bin/uv" pip compile pyproject.toml "$work/torch-deps.in" \
  --extra dev --extra dense --universal --python-version 3.10 \
  --override "$work/override.txt" --no-emit-package torch \
  --generate-hashes --no-python-downloads --quiet --no-header \
  -o "$work/lock.txt"
{
  echo "# requirements.lock: every dependency of evalgate at an exact version, with hashes."
  echo "# Written by 'make lock' (scripts/lock.sh, uv pip compile --universal) from pyproject.toml"
  echo "# [dev, dense]; installed by scripts/setup.sh; checked against pyproject.toml by"
  echo "# scripts/check_lock.py. Do not edit by hand."
  echo "# torch==$torch_version  (installed first by scripts/setup.sh: the CPU or the CUDA build)"
  cat "$work/lock.txt"
} >requirements.lock.tmp
mv requirements.lock.tmp requirements.lock
"$py" scripts/check_lock.py
echo "==> requirements.lock: $(grep -c '^[a-z0-9]' requirements.lock) pins, torch==$torch_version; run 'make setup' to install it"
