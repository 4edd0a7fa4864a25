#!/usr/bin/env bash
# Opens the app in a real X window (Xvfb), in demo mode, runs one generation automatically, takes a
# screenshot and checks that it is not blank. Usage: .ci/window-check.sh [OUT.png]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-target/window-check.png}"
# Build the binary the way the tests do (same feature set as `cargo test`, so nothing is rebuilt
# after the test run): the integration tests depend on it.
cargo test --locked --no-run --test cli >/dev/null 2>&1 || cargo build --locked --bin fluxcn
export XDG_RUNTIME_DIR="$(mktemp -d)"; chmod 700 "$XDG_RUNTIME_DIR"
export FLUXCN_DATA_DIR="$(mktemp -d)"
export HOME_TMP="$(mktemp -d)"
display=":$((90 + RANDOM % 9))"
Xvfb "$display" -screen 0 1400x900x24 -nolisten tcp >/dev/null 2>&1 &
xvfb_pid=$!
trap 'kill $app_pid $xvfb_pid 2>/dev/null || true' EXIT
sleep 2
export DISPLAY="$display"
app_pid=""
HOME="$HOME_TMP" FLUXCN_AUTOGENERATE=1 ./target/debug/fluxcn --demo >target/window-check.log 2>&1 &
app_pid=$!
# Wait for the demo generation to be saved (the stand-in answers in about a second).
for _ in $(seq 1 60); do
  if find "$FLUXCN_DATA_DIR" -name '*.json' -path '*gallery*' 2>/dev/null | grep -q .; then break; fi
  sleep 1
done
sleep 3
import -window root "$out"
kill "$app_pid" 2>/dev/null || true
colors=$(convert "$out" -format '%k' info:)
echo "screenshot: $out ($colors colours)"
if [ "$colors" -lt 50 ]; then
  echo "error: the screenshot looks blank ($colors colours)"; cat target/window-check.log; exit 1
fi
if ! find "$FLUXCN_DATA_DIR" -name '*.json' -path '*gallery*' | grep -q .; then
  echo "error: the demo generation was not saved"; cat target/window-check.log; exit 1
fi
echo "window check passed"
