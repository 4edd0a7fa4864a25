#!/usr/bin/env bash
# The Windows build, run: `fluxcn.exe` (cross-built with mingw-w64) under Wine, against the native
# stand-in on loopback. One step at a time, each must pass:
#   --version → generate (image, sidecar and catalog saved in a Windows path) → gallery search finds
#   it → the key through the Windows Credential Manager (key set, a new process reads it, a
#   generation with no SEGMIND_API_KEY uses it, key clear) → paths names Windows places.
# Wine 8 (Debian 12) lacks bcryptprimitives.dll, which Rust's std imports (ProcessPrng); a
# three-line shim built with mingw sits next to the .exe (see ../shared/STACK.md).
#
# Needs: wine64, gcc-mingw-w64-x86-64, the x86_64-pc-windows-gnu Rust target, ImageMagick
# (`.ci/run` installs them). Builds the CLI only (`--no-default-features`: the window is not run
# here) with the `smoke` profile (dependencies unoptimised: the build is what costs, not the run).
# Usage: bash scripts/wine-smoke.sh      (FLUXCN_EXE=path/to/fluxcn.exe: use that, build nothing)
set -euo pipefail
cd "$(dirname "$0")/.."

wine="$(command -v wine64 || true)"
[ -n "$wine" ] || wine=/usr/lib/wine/wine64
[ -x "$wine" ] || { echo "wine-smoke: wine64 is missing (apt-get install wine64)" >&2; exit 1; }
command -v x86_64-w64-mingw32-gcc >/dev/null || {
  echo "wine-smoke: x86_64-w64-mingw32-gcc is missing (apt-get install gcc-mingw-w64-x86-64)" >&2; exit 1; }

target=x86_64-pc-windows-gnu
if [ -n "${FLUXCN_EXE:-}" ]; then
  exe="$FLUXCN_EXE"
else
  cargo build --locked --target "$target" --profile smoke --no-default-features --bin fluxcn
  exe="target/$target/smoke/fluxcn.exe"
fi
[ -f "$exe" ] || { echo "wine-smoke: no $exe" >&2; exit 1; }

# The native stand-in (the Linux binary the tests built, or a fresh build of it).
cargo test --locked --no-run --test cli >/dev/null 2>&1 || cargo build --locked --bin fluxcn
native="$PWD/target/debug/fluxcn"

scratch="$(mktemp -d /tmp/fluxcn-wine.XXXXXX)"
trap 'kill ${sim_pid:-} 2>/dev/null || true; wineserver -k 2>/dev/null || true; [ -n "${KEEP:-}" ] && echo "kept: $scratch" || rm -rf "$scratch"' EXIT
mkdir -p "$scratch"/{bin,prefix,logs,home}
cp "$exe" "$scratch/bin/fluxcn.exe"

# The shim: ProcessPrng on top of RtlGenRandom.
cat >"$scratch/bcp.c" <<'C'
#include <windows.h>
#include <ntsecapi.h>
BOOL WINAPI ProcessPrng(PBYTE p, SIZE_T n) { return RtlGenRandom(p, (ULONG)n); }
C
printf 'LIBRARY bcryptprimitives\nEXPORTS\nProcessPrng\n' >"$scratch/bcp.def"
x86_64-w64-mingw32-gcc -shared -o "$scratch/bin/bcryptprimitives.dll" "$scratch/bcp.c" "$scratch/bcp.def" -ladvapi32

export WINEPREFIX="$scratch/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" HOME="$scratch/home"
unset SEGMIND_API_KEY FLUXCN_API_BASE FLUXCN_DATA_DIR DISPLAY HTTP_PROXY http_proxy HTTPS_PROXY https_proxy ALL_PROXY all_proxy
logs="$scratch/logs"
fail() { echo "wine-smoke: FAILED: $*" >&2; for f in "$logs"/*; do
  [ -s "$f" ] && { echo "--- ${f##*/}" >&2; sed "s/${KEY:-no-key-yet}/[the key]/g" "$f" | tail -20 >&2; }; done; exit 1; }
ok() { echo "ok: $*"; }
# One run of the .exe, its output kept under logs/NAME.{out,err}; returns its exit code.
run() { local name="$1"; shift; "$wine" "$scratch/bin/fluxcn.exe" "$@" >"$logs/$name.out" 2>"$logs/$name.err" </dev/null; }
winpath() { echo "Z:${1}"; }

"$wine" wineboot --init >/dev/null 2>&1 || true
run version --version || fail "fluxcn.exe --version exited non-zero"
grep -q "^fluxcn [0-9]" "$logs/version.out" || fail "--version printed: $(cat "$logs/version.out")"
ok "fluxcn.exe --version under $("$wine" --version 2>/dev/null): $(cat "$logs/version.out")"

port=$((20000 + RANDOM % 20000))
"$native" sim --port "$port" --delay-ms 50 >"$logs/sim.out" 2>"$logs/sim.err" &
sim_pid=$!
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$sim_pid" 2>/dev/null || fail "the stand-in did not start"
  sleep 0.1
done
base="http://127.0.0.1:$port/v1"
convert -size 320x256 gradient:blue-orange "$scratch/in.png"

# A generation from Windows: paths in Windows form, the key from the environment.
KEY="SG_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export FLUXCN_DATA_DIR="$(winpath "$scratch/data")"
SEGMIND_API_KEY="$KEY" run generate --api-base "$base" --retries 0 generate \
  --image "$(winpath "$scratch/in.png")" --prompt "a lighthouse at dusk, wine smoke" --cn-type depth \
  --seed 7 --out "$(winpath "$scratch/out")" || fail "generate exited non-zero"
image=$(find "$scratch/out" -maxdepth 1 -type f \( -name '*.jpg' -o -name '*.png' -o -name '*.webp' \) | head -1)
[ -n "$image" ] || fail "generate saved no image"
stem="${image%.*}"
[ -s "$stem.json" ] || fail "no sidecar beside $image"
grep -q '"prompt": *"a lighthouse at dusk, wine smoke"' "$stem.json" || fail "the sidecar does not hold the prompt"
[ -s "$scratch/out/.catalog.sqlite" ] || fail "no catalog in the gallery folder"
name="${image##*/}"
case "$name" in *[:\\\<\>\"\|\?\*]*) fail "the file name $name is not a Windows name";; esac
ok "generate: $name, its sidecar and .catalog.sqlite written from Windows"

# The same picture found through the catalog (a new process).
run search gallery search lighthouse --out "$(winpath "$scratch/out")" || fail "gallery search exited non-zero"
grep -q "$name" "$logs/search.out" || fail "gallery search did not find $name"
run search-none gallery search cn_type:canny --out "$(winpath "$scratch/out")" || fail "gallery search (none) exited non-zero"
[ ! -s "$logs/search-none.out" ] || fail "gallery search cn_type:canny found: $(cat "$logs/search-none.out")"
ok "gallery search finds it (lighthouse), and nothing for cn_type:canny"

# The key through the Windows Credential Manager (Wine implements CredWriteW/CredReadW in its
# advapi32, kept in the prefix's registry).
masked="SG_…${KEY: -2}"
printf '%s\n' "$KEY" | "$wine" "$scratch/bin/fluxcn.exe" key set >"$logs/key-set.out" 2>"$logs/key-set.err" \
  || fail "key set exited non-zero"
grep -qF "stored the key $masked in the OS keyring" "$logs/key-set.out" || fail "key set did not store the key"
run key-status key status || fail "key status exited non-zero"
grep -qF "key $masked stored in the OS keyring" "$logs/key-status.out" || fail "key status (a new process) does not find the key"
run generate-keyring --api-base "$base" --retries 0 generate --image "$(winpath "$scratch/in.png")" \
  --prompt "from the credential store" --seed 8 --out "$(winpath "$scratch/out")" \
  || fail "a generation with the stored key (no SEGMIND_API_KEY) failed"
run key-clear key clear || fail "key clear exited non-zero"
run key-status-cleared key status || fail "key status (after clear) exited non-zero"
grep -q "^no key" "$logs/key-status-cleared.out" || fail "a key is still found after key clear"
ok "key set / status / generate / clear through the Windows Credential Manager: $(cat "$logs/key-status.out")"

run paths paths || fail "paths exited non-zero"
grep -q "Windows Credential Manager" "$logs/paths.out" || fail "paths does not name the Windows Credential Manager"
ok "paths: $(grep '^key' "$logs/paths.out")"

# Nothing printed or written holds the key.
if grep -rqF "$KEY" "$logs" "$scratch/out" "$scratch/data" 2>/dev/null; then fail "the key is in a file or an output"; fi
ok "the key is in no output and no file written"
echo "wine smoke passed"
