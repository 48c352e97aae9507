#!/bin/sh
# Build the one-folder desktop bundle (dist/batchmon/) with PyInstaller and prove it runs:
#   1. `batchmon --version`           the frozen interpreter starts and finds batchmon;
#   2. `batchmon db migrate`          the embedded PostgreSQL and the SQL migrations came
#                                     along (a throwaway data dir, removed afterwards);
#   3. `batchmon --self-test`         the main window opens offscreen on a temporary
#                                     embedded database and the simulator, one sync pass
#                                     runs, and it exits 0.
# Usage: packaging/build-bundle.sh [--skip-build]   (from anywhere; PYTHON overrides the
# interpreter, default .venv/bin/python). Exits non-zero on the first failure.
set -eu
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cd "$ROOT"
PYTHON=${PYTHON:-.venv/bin/python}
DIST=${DIST:-dist}
BUILD=${BUILD:-build/pyinstaller}
APP="$DIST/batchmon/batchmon"

if [ "${1:-}" != "--skip-build" ]; then
  if ! "$PYTHON" -c "import PyInstaller" 2>/dev/null; then
    echo "build-bundle: installing PyInstaller into $("$PYTHON" -c 'import sys; print(sys.prefix)')"
    "$PYTHON" -m pip install --quiet "pyinstaller>=6.10"
  fi
  "$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$DIST" --workpath "$BUILD" packaging/pyinstaller/batchmon.spec
fi

[ -x "$APP" ] || { echo "build-bundle: $APP is missing; build it first" >&2; exit 1; }
echo "build-bundle: $(du -sh "$DIST/batchmon" | cut -f1) in $DIST/batchmon"

SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT INT TERM
# Nothing from this machine's settings, keyring or database leaks into the checks.
export HOME="$SCRATCH/home" XDG_CONFIG_HOME="$SCRATCH/config" XDG_DATA_HOME="$SCRATCH/data"
export BATCHMON_DATA_DIR="$SCRATCH/data/batchmon"
export PYTHON_KEYRING_BACKEND=keyring.backends.fail.Keyring
export QT_QPA_PLATFORM=offscreen
unset DATABASE_URL BATCHMON_DATABASE_URL SUPABASE_URL SUPABASE_ANON_KEY OPENAI_API_KEY || true
mkdir -p "$HOME"

echo "build-bundle: --version"
"$APP" --version
echo "build-bundle: db migrate (embedded PostgreSQL in $BATCHMON_DATA_DIR)"
"$APP" db migrate
echo "build-bundle: --self-test"
"$APP" --self-test
echo "build-bundle: ok"
