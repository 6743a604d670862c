#!/usr/bin/env bash
# Brings a fresh Debian/Ubuntu machine to where `make demo` / `make test` can run:
# uv (installed when absent, also where the system Python refuses pip installs, PEP 668), the locked
# environment in .venv, and what Debian must supply (fonts for burnt-in text; Chromium and PostgreSQL's server
# binaries for the tests, which start a throwaway cluster from /usr/lib/postgresql/*/bin).
# Usage: scripts/bootstrap.sh demo|test
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:?usage: scripts/bootstrap.sh demo|test}

say() { printf 'bootstrap: %s\n' "$*" >&2; }

find_uv() {
  local c
  for c in "$(command -v uv 2>/dev/null || true)" "$HOME/.local/bin/uv" "$HOME/.cargo/bin/uv" .tools/bin/uv; do
    if [ -n "$c" ] && [ -x "$c" ]; then echo "$c"; return 0; fi
  done
  return 1
}

install_uv() {
  say "uv not found: installing it from PyPI"
  if python3 -m pip --version >/dev/null 2>&1; then
    python3 -m pip install --user --quiet --disable-pip-version-check uv 2>/dev/null \
      || python3 -m pip install --user --quiet --disable-pip-version-check --break-system-packages uv \
      || true
  fi
  find_uv >/dev/null && return 0
  # No usable pip: a private venv for the tool (Debian needs python3-venv for that).
  if ! python3 -m venv .tools >/dev/null 2>&1; then
    apt_install python3-venv python3-pip
    python3 -m venv .tools
  fi
  .tools/bin/pip install --quiet --disable-pip-version-check uv
}

apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing from Debian: $*"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  else
    say "please install these Debian packages (as root): apt-get install $*"
    exit 3
  fi
}

have_postgres() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && return 0
  done
  return 1
}

have_font() {
  local d
  for d in /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/truetype/noto/NotoSans-Regular.ttf \
           /usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf; do
    [ -f "$d" ] && return 0
  done
  [ -n "${DOCFILM_FONT_FILE:-}" ] && [ -f "$DOCFILM_FONT_FILE" ]
}

uv_bin=$(find_uv || { install_uv; find_uv; })
# Offline machines cannot download interpreters: use the system's Python 3.11+.
export UV_PYTHON_DOWNLOADS=${UV_PYTHON_DOWNLOADS:-never}
# One environment for both targets, so switching between them never reinstalls anything.
# Precompiled bytecode: Prefect is large, and where PYTHONDONTWRITEBYTECODE is set every process would
# otherwise compile it again (10-15 s a command). Compiling checks every file of the environment (2-3 s even
# when all is compiled), so it runs only when the lock or the project changed since the last time.
stamp=.venv/.docfilm-bytecode
if [ -f "$stamp" ] && sha256sum --status -c "$stamp" 2>/dev/null; then
  "$uv_bin" sync --locked --quiet
else
  "$uv_bin" sync --locked --compile-bytecode --quiet
  sha256sum uv.lock pyproject.toml > "$stamp"
fi
# The project's own packages are not in the environment: where PYTHONDONTWRITEBYTECODE is set, every command
# (and every test's `docfilm`) compiled their modules from source again. compileall skips what is up to date.
packages=()
for init in */__init__.py; do packages+=("${init%/__init__.py}"); done
.venv/bin/python -m compileall -q -j 0 "${packages[@]}" >/dev/null

missing=()
have_font || missing+=(fonts-dejavu-core)
if [ "$what" = test ]; then
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  have_postgres || missing+=(postgresql)
fi
if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
