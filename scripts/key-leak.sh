#!/usr/bin/env bash
# The key-leak search: a fresh, distinctive API key goes through a full run of everything a user
# does (the CLI's every command against the stand-in with injected faults, failures included, and
# the app in a real window when Xvfb is there), with the most verbose logging (FLUXCN_LOG=trace).
# A fake proxy named in every proxy variable keeps whatever reaches it: a plain-HTTP (loopback)
# service must be reached directly (the proxy gets nothing), an HTTPS one may go through it (the
# proxy sees only a CONNECT).
# Then every file written under the run's HOME, TMPDIR and data folder, and every captured stdout,
# stderr and log, is searched for the key. Prints the tally; exits 1 on any hit.
#
# Usage: scripts/key-leak.sh            (CI runs it after the tests; about a minute once built)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked --no-run --test cli >/dev/null 2>&1 || cargo build --locked --bin fluxcn
bin="$PWD/target/debug/fluxcn"

scratch="$(mktemp -d)"
# KEEP=1 keeps the run's files for a look.
trap 'kill ${sim_pid:-} ${app_pid:-} ${xvfb_pid:-} ${proxy_pid:-} 2>/dev/null || true; [ -n "${KEEP:-}" ] && echo "kept: $scratch" || rm -rf "$scratch"' EXIT
mkdir -p "$scratch"/{home,tmp,data,logs,out,runtime}
chmod 700 "$scratch/runtime"
key="SG_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export HOME="$scratch/home" TMPDIR="$scratch/tmp" FLUXCN_DATA_DIR="$scratch/data"
export XDG_RUNTIME_DIR="$scratch/runtime" XDG_CONFIG_HOME="$scratch/home/.config"
export XDG_DATA_HOME="$scratch/home/.local/share" XDG_CACHE_HOME="$scratch/home/.cache"
export SEGMIND_API_KEY="$key" FLUXCN_LOG=trace
unset FLUXCN_API_BASE FLUXCN_HISTORY_BASE FLUXCN_STORAGE_BASE FLUXCN_API RUST_BACKTRACE HTTP_PROXY http_proxy HTTPS_PROXY https_proxy ALL_PROXY all_proxy \
  NO_PROXY no_proxy

port=$((20000 + RANDOM % 20000))
"$bin" sim --port "$port" --delay-ms 50 --seed 7 \
  --faults "429:0.08,500:0.08,502:0.05,reset:0.05,truncate:0.05,html:0.03" \
  >"$scratch/logs/sim.out" 2>"$scratch/logs/sim.err" &
sim_pid=$!
base="http://127.0.0.1:$port/v1"
for _ in $(seq 1 50); do
  "$bin" --api-base "$base" credits >/dev/null 2>&1 && break
  sleep 0.2
done

input="$scratch/in.png"
"$bin" --help >/dev/null
# An input image: the stand-in's own demo figure is not exposed on the CLI, so draw one with
# ImageMagick when it works here, else write a 320×240 gradient BMP by hand (the service needs at
# least 64 pixels a side, so a hand-made 1×1 PNG would stop every generation at the input check).
if ! { command -v convert >/dev/null && convert -size 320x240 gradient:navy-orange "$input" 2>/dev/null; }; then
  input="$scratch/in.bmp"
  perl -e 'my ($w, $h) = (320, 240); my $n = $w * 3 * $h;
    print "BM", pack("V v v V", 54 + $n, 0, 0, 54), pack("V l l v v V V l l V V", 40, $w, $h, 1, 24, 0, $n, 2835, 2835, 0, 0);
    for my $y (0 .. $h - 1) { print pack("C3", 128, $y, $_ * 255 / $w) for 0 .. $w - 1 }' >"$input"
fi

runs=0
run() {
  local name="$1"; shift
  runs=$((runs + 1))
  "$@" >"$scratch/logs/$name.out" 2>"$scratch/logs/$name.err" </dev/null || true
}
gen=(--api-base "$base" --retries 2)
for i in 1 2 3 4 5 6; do
  run "generate-v1-$i" "$bin" "${gen[@]}" generate --api v1 --image "$input" --prompt "leak $i" --seed "$i" --out "$scratch/out"
done
run generate-v2 "$bin" "${gen[@]}" generate --image "$input" --prompt "leak v2" --api v2
run generate-png-samples "$bin" "${gen[@]}" generate --image "$input" --prompt "leak png" --format png --samples 2
run compare "$bin" "${gen[@]}" compare --image "$input" --prompt "leak compare" --grid "$scratch/out/compare.png"
run grid "$bin" "${gen[@]}" compare --image "$input" --prompt "leak grid" --x cn_strength=0.2:1.0:0.4 --y sampler=euler,dpmpp_2m --grid "$scratch/out/grid.png"
# The account's own records and storage (issue 25): uploads, the history asked after a cut-off
# answer, reconcile with its image downloads, and hosts that must never get the key.
run generate-v1-upload "$bin" "${gen[@]}" generate --api v1 --upload-input --image "$input" --prompt "leak upload"
run compare-upload "$bin" "${gen[@]}" compare --upload-input --image "$input" --prompt "leak compare upload"
run reconcile "$bin" "${gen[@]}" reconcile --days 2
run reconcile-import "$bin" "${gen[@]}" reconcile --days 2 --import
run history-plain-http-remote "$bin" "${gen[@]}" --history-base "http://example.invalid/" reconcile
run storage-plain-http-remote "$bin" "${gen[@]}" --storage-base "http://example.invalid/" generate --upload-input --image "$input" --prompt x
run resume "$bin" "${gen[@]}" resume
run credits "$bin" "${gen[@]}" credits
run key-status "$bin" key status
run bad-setting "$bin" "${gen[@]}" generate --image "$input" --prompt x --steps 500
run bad-file "$bin" "${gen[@]}" generate --image "$scratch/logs/sim.err" --prompt x
run dead-server "$bin" --api-base "http://127.0.0.1:1/v1" --retries 0 generate --image "$input" --prompt x
run plain-http-remote "$bin" --api-base "http://example.invalid/v1" generate --image "$input" --prompt x
run demo-with-command "$bin" --demo generate --image "$input" --prompt "leak demo"

# The proxy variables: a fake proxy (perl, in every Debian) appends every byte it receives to a file
# under the search, and answers 502.
proxy_note="skipped (no perl)"
if command -v perl >/dev/null; then
  perl -MIO::Socket::INET -e '
    my ($port_file, $log) = @ARGV;
    my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 16,
                                  ReuseAddr => 1) or die "listen: $!";
    open(my $pf, ">", "$port_file.tmp") or die; print $pf $l->sockport; close $pf;
    rename("$port_file.tmp", $port_file) or die;
    while (my $c = $l->accept) {
      my $got = "";
      while ($got !~ /\r\n\r\n/) { my $n = sysread($c, my $buf, 65536); last unless $n; $got .= $buf; }
      open(my $f, ">>", $log) or die; print $f $got; close $f;
      print $c "HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n"; close $c;
    }' "$scratch/proxy.port" "$scratch/logs/proxy.received" &
  proxy_pid=$!
  for _ in $(seq 1 50); do [ -s "$scratch/proxy.port" ] && break; sleep 0.1; done
  proxy="http://127.0.0.1:$(cat "$scratch/proxy.port")"
  via_proxy=(env HTTP_PROXY="$proxy" http_proxy="$proxy" ALL_PROXY="$proxy" all_proxy="$proxy"
    HTTPS_PROXY="$proxy" https_proxy="$proxy")
  run proxy-credits "${via_proxy[@]}" "$bin" "${gen[@]}" credits
  run proxy-generate-v1 "${via_proxy[@]}" "$bin" "${gen[@]}" generate --image "$input" --prompt "leak proxy" --out "$scratch/out"
  run proxy-generate-v2 "${via_proxy[@]}" "$bin" "${gen[@]}" generate --image "$input" --prompt "leak proxy v2" --api v2
  touch "$scratch/logs/proxy.received"
  if [ -s "$scratch/logs/proxy.received" ]; then
    echo "error: plain-HTTP requests went to the proxy (the key with them, in clear):"
    grep -aE '^[A-Z]+ [^ ]+ HTTP/' "$scratch/logs/proxy.received" | head -5 | sed 's/^/    /'
    exit 1
  fi
  run proxy-https "${via_proxy[@]}" "$bin" --api-base "https://api.segmind.invalid/v1" --retries 0 credits
  kill "$proxy_pid" 2>/dev/null || true; wait "$proxy_pid" 2>/dev/null || true
  connects=$(grep -ac '^CONNECT ' "$scratch/logs/proxy.received" || true)
  proxy_note="3 plain-HTTP runs reached the stand-in directly; HTTPS: $connects CONNECT(s) seen by the proxy"
fi

# The app in a real window: the demo (which generates once by itself) and the app against the
# stand-in with the key (it reads the credits with it).
app_note="skipped (no Xvfb)"
if command -v Xvfb >/dev/null; then
  display=":$((100 + RANDOM % 50))"
  Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
  xvfb_pid=$!
  sleep 2
  DISPLAY="$display" FLUXCN_AUTOGENERATE=1 "$bin" --demo >"$scratch/logs/app-demo.out" 2>"$scratch/logs/app-demo.err" &
  app_pid=$!
  sleep 10; kill "$app_pid" 2>/dev/null || true; wait "$app_pid" 2>/dev/null || true
  DISPLAY="$display" "$bin" --api-base "$base" >"$scratch/logs/app.out" 2>"$scratch/logs/app.err" &
  app_pid=$!
  sleep 8; kill "$app_pid" 2>/dev/null || true; wait "$app_pid" 2>/dev/null || true
  runs=$((runs + 2))
  app_note="2 runs (demo with one generation; against the stand-in with the key)"
fi
kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true

# The search must be able to fail: a planted copy of the key is found, then removed.
printf 'canary %s\n' "$key" >"$scratch/tmp/canary"
if ! grep -rlaF "$key" "$scratch" | grep -q canary; then
  echo "error: the search cannot find a planted key"; exit 1
fi
rm "$scratch/tmp/canary"

saved=$(find "$scratch/out" "$scratch/data" -name '*.jpg' -o -name '*.png' | wc -l)
files=$(find "$scratch" -type f | wc -l)
bytes=$(find "$scratch" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
log_lines=$(cat "$scratch"/logs/* | wc -l)
hits=$(grep -rlaF "$key" "$scratch" || true)
echo "key-leak search: key SG_…${key: -2} (fresh), $runs runs, app: $app_note"
echo "  proxy: $proxy_note"
echo "  searched $files files ($bytes bytes), of which $log_lines lines of captured output; $saved images saved"
if [ -n "$hits" ]; then
  echo "  the key was found in:"
  echo "$hits" | sed 's/^/    /'
  exit 1
fi
echo "  hits: 0"
