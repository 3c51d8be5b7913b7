#!/usr/bin/env bash
# Sets up everything overlap needs on a fresh Debian/Ubuntu machine with Python >= 3.11:
# a virtual environment in .venv with the package (and the extras named in $1, e.g.
# "test"), and Debian's Fashion-MNIST files for the offline study and tests. The extra
# "timm" instead makes .venv-timm, a separate environment with pyproject.toml's
# timm-reference pins (timm's PyTorch models for the timm parity tests; ~5.5 GB).
# Idempotent: a second run only checks. Source it or run it; it prints what it does.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

extras="${1:-}"
venv=".venv"
python="${PYTHON:-python3}"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "overlap setup: need root (or sudo) to run: $*" >&2; return 1; fi
}

apt_updated=0
apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "overlap setup: cannot install Debian package(s) $* (no apt-get); install them by hand." >&2
    return 1
  fi
  if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

if ! "$python" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
  echo "overlap setup: need Python >= 3.11 as '$python' (set PYTHON=/path/to/python3.11)." >&2
  exit 1
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "overlap setup: creating $venv"
  if ! "$python" -m venv "$venv" 2>/dev/null; then
    rm -rf "$venv"
    version="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
    apt_install "python${version}-venv" || apt_install python3-venv
    "$python" -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install -q --upgrade pip
fi

with_timm=0
case ",$extras," in *,timm,*) with_timm=1 ;; esac
extras="$(echo "$extras" | tr ',' '\n' | grep -vx 'timm' | paste -sd, - || true)"

spec="."
[ -n "$extras" ] && spec=".[${extras}]"
# Reinstall when pyproject.toml or the set of top-level packages changed (an editable
# install maps package names at install time).
stamp="$venv/.installed-$(echo "$extras" | tr ',' '-')"
fingerprint="$(cat pyproject.toml; ls -d */__init__.py 2>/dev/null)"
fingerprint="$(echo "$fingerprint" | cksum)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$fingerprint" ]; then
  echo "overlap setup: installing $spec into $venv"
  # (setuptools' notice that an editable install maps packages from this folder is expected
  # here: silenced so that setup prints only its own lines)
  PYTHONWARNINGS="ignore:Editable installation" "$venv/bin/python" -m pip install -q -e "$spec"
  echo "$fingerprint" > "$stamp"
fi

if [ "$with_timm" = 1 ]; then
  timm_venv=".venv-timm"
  pins="$("$venv/bin/python" -c 'import tomllib; print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["timm-reference"]))')"
  timm_stamp="$timm_venv/.installed-timm-reference"
  if [ ! -f "$timm_stamp" ] || [ "$(cat "$timm_stamp")" != "$pins" ]; then
    echo "overlap setup: installing $pins into $timm_venv (the timm parity reference)"
    [ -x "$timm_venv/bin/python" ] || "$python" -m venv "$timm_venv"
    # shellcheck disable=SC2086  # the pins are separate words
    "$timm_venv/bin/python" -m pip install -q $pins
    echo "$pins" > "$timm_stamp"
  fi
fi

fashion_mnist=/usr/share/datasets/fashion-mnist
if [ ! -f "$fashion_mnist/t10k-labels-idx1-ubyte.gz" ]; then
  echo "overlap setup: installing Debian's dataset-fashion-mnist (offline Fashion-MNIST)"
  apt_install dataset-fashion-mnist || echo "overlap setup: continuing without Fashion-MNIST" >&2
fi
