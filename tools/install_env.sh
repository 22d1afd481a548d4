#!/usr/bin/env bash
# Create or update the project's virtual environment (CPU stack).
#
#   bash tools/install_env.sh [VENV_DIR]        (default .venv; `make install` calls this)
#
# Idempotent: a stamp in the venv records the hash of requirements.txt and
# setup.py; when it matches, nothing is done. mmcv 2.1.0 (with its compiled
# ops, CPU only) and torch-scatter are built from source once into a wheel
# cache outside the work tree ($KDMOS_WHEEL_CACHE, default
# ~/.cache/kdmos_plugin/wheels/torch-<version>) and reused afterwards.
# Every other package is installed exactly as pinned in requirements.txt,
# with --no-deps: the file is the complete, resolved environment.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-$here/.venv}
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null 2>&1 || python=python3
req=$here/requirements.txt
stamp=$venv/.kdmos-install-stamp
want=$(cat "$req" "$here/setup.py" "$0" | sha256sum | cut -d' ' -f1)

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/python" ]; then
  echo "[install] $venv is up to date (requirements unchanged)."
  exit 0
fi

pin() { grep -iE "^$1==" "$req" | head -1; }
torch_pin=$(pin torch); torch_version=${torch_pin#*==}
cache=${KDMOS_WHEEL_CACHE:-$HOME/.cache/kdmos_plugin/wheels/torch-$torch_version}
mkdir -p "$cache"

if [ ! -x "$venv/bin/python" ]; then
  echo "[install] creating $venv with $($python --version)"
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)

echo "[install] installing the pinned packages (no dependency resolution)"
grep -viE '^(mmcv|torch-scatter|torch_scatter)==' "$req" > "$venv/.requirements-binary.txt"
"${pip[@]}" install --quiet --no-deps -r "$venv/.requirements-binary.txt"

build_wheel() {  # name==version [env...]: build once into the cache
  local spec=$1; shift
  local name=${spec%%==*} version=${spec#*==}
  local stem=${name//-/_}
  if ! ls "$cache/${stem}-${version}-"*.whl >/dev/null 2>&1; then
    echo "[install] building $spec from source into $cache (slow, once)"
    env "$@" MAX_JOBS=${MAX_JOBS:-$(nproc)} "${pip[@]}" wheel --no-build-isolation \
      --no-deps "$spec" -w "$cache"
  fi
  "${pip[@]}" install --quiet --no-deps "$(ls "$cache/${stem}-${version}-"*.whl | head -1)"
}
build_wheel "$(pin mmcv)" MMCV_WITH_OPS=1 FORCE_CUDA=0
build_wheel "$(pin torch-scatter)" FORCE_CUDA=0

echo "[install] installing kdmos_plugin (editable)"
"${pip[@]}" install --quiet --no-deps --no-build-isolation -e "$here"

"$venv/bin/python" - <<'PY'
import mmcv, mmcv.ops, mmdet, mmdet3d, mmengine, spconv, torch, torch_scatter
print(f'[install] ok: torch {torch.__version__}, mmengine {mmengine.__version__}, '
      f'mmcv {mmcv.__version__} (ops), mmdet {mmdet.__version__}, '
      f'mmdet3d {mmdet3d.__version__}, torch-scatter {torch_scatter.__version__}')
PY
echo "$want" > "$stamp"
