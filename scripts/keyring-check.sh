#!/usr/bin/env bash
# The OS keyring for real: a real Secret Service (gnome-keyring-daemon inside its own
# dbus-run-session, with a throwaway HOME) and the built binary, one process per step:
#   key set → (a new process) key status finds it in the OS keyring → secret-tool sees the entry →
#   a generation against the stand-in uses it (SEGMIND_API_KEY unset, so the key can only come from
#   the keyring; the stand-in refuses a request without one) → key clear → the entry is gone, and a
#   generation now fails with the no-key error.
# The unit tests keep using keyring-core's mock store; this is the one check against a real one.
# Exits non-zero at the first step that fails. The key is random, never printed (only its masked
# form), and searched for in everything the commands printed.
#
# Needs: dbus-run-session and dbus-send (dbus), gnome-keyring-daemon (gnome-keyring), secret-tool
# (libsecret-tools); `.ci/run` installs them.
# Usage: bash scripts/keyring-check.sh        (FLUXCN_BIN=path/to/fluxcn: use that binary, build nothing)
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in dbus-run-session dbus-send gnome-keyring-daemon secret-tool; do
  command -v "$tool" >/dev/null || {
    echo "keyring-check: $tool is missing (apt-get install dbus gnome-keyring libsecret-tools)" >&2
    exit 1
  }
done

# The binary the tests built (a no-op after `cargo test`), as scripts/key-leak.sh does; or the one
# FLUXCN_BIN names (nothing is built then).
if [ -n "${FLUXCN_BIN:-}" ]; then
  bin="$(cd "$(dirname "$FLUXCN_BIN")" && pwd)/$(basename "$FLUXCN_BIN")"
else
  cargo test --locked --no-run --test cli >/dev/null 2>&1 || cargo build --locked --bin fluxcn
  bin="$PWD/target/debug/fluxcn"
fi
[ -x "$bin" ] || { echo "keyring-check: no $bin" >&2; exit 1; }

scratch="$(mktemp -d)"
trap 'kill ${sim_pid:-} 2>/dev/null || true; [ -n "${KEEP:-}" ] && echo "kept: $scratch" || rm -rf "$scratch"' EXIT
mkdir -p "$scratch"/{home,tmp,data,logs,out,runtime}
chmod 700 "$scratch/runtime"
export HOME="$scratch/home" TMPDIR="$scratch/tmp" FLUXCN_DATA_DIR="$scratch/data"
export XDG_RUNTIME_DIR="$scratch/runtime" XDG_CONFIG_HOME="$scratch/home/.config"
export XDG_DATA_HOME="$scratch/home/.local/share" XDG_CACHE_HOME="$scratch/home/.cache"
# Nothing but the keyring may supply the key, and no outer session bus may be reached.
unset SEGMIND_API_KEY FLUXCN_API_BASE DBUS_SESSION_BUS_ADDRESS GNOME_KEYRING_CONTROL \
  HTTP_PROXY http_proxy HTTPS_PROXY https_proxy ALL_PROXY all_proxy

key="SG_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
masked="SG_…${key: -2}"
export KC_KEY="$key" KC_MASKED="$masked" KC_BIN="$bin" KC_SCRATCH="$scratch"

# The stand-in, outside the keyring's session (it needs no key of its own).
port=$((20000 + RANDOM % 20000))
"$bin" sim --port "$port" --delay-ms 50 >"$scratch/logs/sim.out" 2>"$scratch/logs/sim.err" &
sim_pid=$!
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$sim_pid" 2>/dev/null || { echo "keyring-check: the stand-in did not start" >&2; cat "$scratch/logs/sim.err" >&2; exit 1; }
  sleep 0.1
done
export KC_BASE="http://127.0.0.1:$port/v1"

# An input image: ImageMagick's gradient, else the 320×240 BMP key-leak.sh draws by hand.
export KC_INPUT="$scratch/in.png"
if ! { command -v convert >/dev/null && convert -size 256x256 gradient: "$KC_INPUT" 2>/dev/null; }; then
  KC_INPUT="$scratch/in.bmp"
  perl -e 'my ($w, $h) = (320, 240); my $n = $w * 3 * $h;
    print "BM", pack("V v v V", 54 + $n, 0, 0, 54), pack("V l l v v V V l l V V", 40, $w, $h, 1, 24, 0, $n, 2835, 2835, 0, 0);
    for my $y (0 .. $h - 1) { print pack("C3", 128, $y, $_ * 255 / $w) for 0 .. $w - 1 }' >"$KC_INPUT"
fi

cat >"$scratch/inside.sh" <<'INSIDE'
set -euo pipefail
logs="$KC_SCRATCH/logs"
fail() { echo "keyring-check: FAILED: $*" >&2; for f in "$logs"/*.out "$logs"/*.err; do
  [ -s "$f" ] && { echo "--- ${f##*/}" >&2; sed "s/$KC_KEY/[the key]/g" "$f" >&2; }; done; exit 1; }
ok() { echo "ok: $*"; }
# One command, its output kept under logs/NAME.{out,err}; returns its exit code.
step() { local name="$1"; shift; "$@" >"$logs/$name.out" 2>"$logs/$name.err" </dev/null; }

# A Secret Service of our own: a fresh login keyring under the throwaway HOME, unlocked.
eval "$(printf 'keyring-check' | gnome-keyring-daemon --unlock --components=secrets)"
# It claims the Secret Service's name a moment later; wait for that, so that the first call reaches
# this unlocked daemon (not one D-Bus would start on demand).
owned=""
for _ in $(seq 1 50); do
  if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q "boolean true"; then
    owned=1; break
  fi
  sleep 0.1
done
[ -n "$owned" ] || fail "gnome-keyring-daemon did not take the name org.freedesktop.secrets within 5 s"
ok "gnome-keyring-daemon is the Secret Service (org.freedesktop.secrets) on this session's bus"

step status-before "$KC_BIN" key status || fail "key status (before) exited non-zero"
grep -q "^no key" "$logs/status-before.out" || fail "a fresh keyring should hold no key"
ok "key status before: $(cat "$logs/status-before.out")"

printf '%s\n' "$KC_KEY" | "$KC_BIN" key set >"$logs/set.out" 2>"$logs/set.err" || fail "key set exited non-zero"
grep -qF "stored the key $KC_MASKED in the OS keyring" "$logs/set.out" || fail "key set did not say it stored the key"
ok "key set: $(cat "$logs/set.out")"

# The entry as the OS sees it (compared here, never printed).
seen="$(secret-tool lookup service fluxcn username segmind-api-key || true)"
[ "$seen" = "$KC_KEY" ] || fail "secret-tool does not find the key under service=fluxcn"
ok "secret-tool finds the entry service=fluxcn username=segmind-api-key holding the key"

# A new process finds it.
step status-after "$KC_BIN" key status || fail "key status (after set) exited non-zero"
grep -qF "key $KC_MASKED stored in the OS keyring" "$logs/status-after.out" || fail "key status does not find the key in the OS keyring"
ok "key status (a new process): $(cat "$logs/status-after.out")"

# A generation uses it: no SEGMIND_API_KEY, so the key can only come from the keyring.
step generate "$KC_BIN" --api-base "$KC_BASE" --retries 0 generate --image "$KC_INPUT" --prompt "keyring check" --out "$KC_SCRATCH/out" \
  || fail "the generation with the keyring's key failed"
images=$(find "$KC_SCRATCH/out" -type f \( -name '*.jpg' -o -name '*.png' -o -name '*.webp' \) | wc -l)
[ "$images" -ge 1 ] || fail "the generation saved no image"
ok "generate against the stand-in with the keyring's key: $images image(s) saved"

step credits "$KC_BIN" --api-base "$KC_BASE" credits || fail "credits with the keyring's key failed"
ok "credits with the keyring's key: $(head -1 "$logs/credits.out")"

step clear "$KC_BIN" key clear || fail "key clear exited non-zero"
grep -q "removed the stored key" "$logs/clear.out" || fail "key clear did not say it removed the key"
[ -z "$(secret-tool search --all service fluxcn 2>/dev/null)" ] || fail "the entry is still in the keyring after key clear"
ok "key clear: $(cat "$logs/clear.out"); secret-tool finds no entry"

step status-cleared "$KC_BIN" key status || fail "key status (after clear) exited non-zero"
grep -q "^no key" "$logs/status-cleared.out" || fail "key status still finds a key after clear"
ok "key status after clear: $(cat "$logs/status-cleared.out")"

if step generate-no-key "$KC_BIN" --api-base "$KC_BASE" --retries 0 generate --image "$KC_INPUT" --prompt "no key" --out "$KC_SCRATCH/out-none"; then
  fail "a generation succeeded with no key anywhere"
fi
grep -q "no API key" "$logs/generate-no-key.err" || fail "the generation without a key did not fail with the no-key error"
ok "generate after clear fails: $(grep -m1 'no API key' "$logs/generate-no-key.err")"
INSIDE

# The session bus and the keyring daemon live only as long as the inner script. Its stderr is shown
# after it, without dbus-daemon's harmless "Failed to set fd limit" line.
rc=0
timeout 180 dbus-run-session -- bash "$scratch/inside.sh" 2>"$scratch/session.err" || rc=$?
grep -v "Failed to set fd limit" "$scratch/session.err" >&2 || true
[ "$rc" = 0 ] || { echo "keyring-check: FAILED (exit $rc)" >&2; exit 1; }

# Nothing any command printed may hold the key.
if grep -rqF "$key" "$scratch/logs"; then
  echo "keyring-check: FAILED: the key appears in a command's output" >&2
  exit 1
fi
echo "ok: the key appears in none of the commands' output"
echo "keyring-check: passed (real Secret Service: set → new process finds it → generation uses it → clear)"
