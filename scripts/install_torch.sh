#!/usr/bin/env bash
# Install torch into a virtualenv, the CPU or the CUDA build, and say which.
#
#   install_torch.sh VENV auto|cpu|cuda VERSION
#
# auto: CUDA when `nvidia-smi -L` lists a GPU, else CPU. The CPU build is the local version
# VERSION+cpu: from an index or wheel folder pip already knows (as on evalgate's CI machines),
# else from the PyTorch CPU index. The CUDA build is PyPI's own Linux wheel (its nvidia-*
# packages come with it). TORCH_SPEC (e.g. "torch==2.13.0+cu126 --index-url ...") replaces
# the choice. torch's other dependencies are pinned in requirements.lock: no deps here on CPU.
set -euo pipefail
venv="$1"; device="$2"; version="$3"
pip=("$venv/bin/python" -m pip install --disable-pip-version-check -q)
cpu_index="https://download.pytorch.org/whl/cpu"

if [ -n "${TORCH_SPEC:-}" ]; then
  echo "==> torch: TORCH_SPEC=$TORCH_SPEC (as you asked)"
  # shellcheck disable=SC2086
  "${pip[@]}" $TORCH_SPEC
  exit 0
fi
if [ "$device" = auto ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q GPU; then
    device=cuda
  else
    device=cpu
  fi
  why=" (auto: $( [ $device = cuda ] && echo 'nvidia-smi lists a GPU' || echo 'no NVIDIA GPU found'); EVALGATE_DEVICE=cpu|cuda chooses)"
else
  why=" (EVALGATE_DEVICE=$device)"
fi
case "$device" in
  cpu)
    echo "==> torch: CPU build torch==$version+cpu$why"
    have=$("$venv/bin/python" -c 'import torch; print(torch.__version__)' 2>/dev/null || true)
    [ "$have" = "$version+cpu" ] && exit 0
    # An index or wheel folder pip is configured with first (no network lookup wasted on
    # retries), then the PyTorch CPU index.
    "${pip[@]}" --no-deps "torch==$version+cpu" 2>/dev/null \
      || "${pip[@]}" --no-deps --index-url "$cpu_index" "torch==$version+cpu"
    ;;
  cuda)
    echo "==> torch: CUDA build torch==$version from PyPI$why"
    "${pip[@]}" "torch==$version"
    ;;
  *) echo "EVALGATE_DEVICE must be auto, cpu or cuda (got '$device')" >&2; exit 2 ;;
esac
