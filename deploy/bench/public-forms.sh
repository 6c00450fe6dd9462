#!/usr/bin/env bash
# Benchmark of the public forms (issue 15), reported in BENCHMARKS.md: Send sikkert
# submissions a second with a 1 MB attachment, against SMTP intake of a message of the same
# size in the same run (the same accept path behind both).
#
# modtag (release build, embedded demo policy, fresh data directory, kvittering off, the
# forms' rate limits lifted) takes N submissions from form-load (tests/src/bin/form-load.rs:
# C clients, each fetching the form for its token, then posting), and then N messages of the
# same size from smtp-load (C sessions).
#
# Usage: deploy/bench/public-forms.sh [N] [C] [SIZE]   (default 200, 4, 1048576; needs curl)
set -euo pipefail
N=${1:-200}
C=${2:-4}
SIZE=${3:-1048576}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/modtag-bench.XXXXXX)
MP=2645 HP=8200 FP=8201
cd "$root"
cargo build --release --quiet -p modtag-intake --bin modtag \
  -p modtag-tests --bin smtp-load --bin form-load
M=$root/target/release/modtag

cleanup() {
  [[ -n ${mpid:-} ]] && kill "$mpid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

source "$root/deploy/bench/config.sh"
bench_config "$root" $MP $HP $FP false \
  -e "s/^submissions_per_minute_per_client = .*/submissions_per_minute_per_client = 100000000/" \
  -e "s/^submissions_per_minute = .*/submissions_per_minute = 100000000/" > "$work/modtag.toml"
"$M" serve --config "$work/modtag.toml" --data "$work/data" > "$work/modtag.log" 2>&1 &
mpid=$!
for _ in $(seq 100); do
  kill -0 "$mpid" 2>/dev/null || { echo "modtag exited:"; cat "$work/modtag.log"; exit 1; }
  curl -sf "http://127.0.0.1:$HP/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / hz)}' "/proc/$mpid/stat"; }

before=$(cpu_ms)
echo "web form, $N submissions of $SIZE bytes, $C clients:"
"$root/target/release/form-load" "127.0.0.1:$FP" "$C" "$N" "$SIZE"
echo "  modtag CPU: $(( ($(cpu_ms) - before) / N )) ms per submission"
before=$(cpu_ms)
echo "SMTP, $N messages of $SIZE bytes, $C sessions:"
"$root/target/release/smtp-load" "127.0.0.1:$MP" "$C" "$N" "$SIZE" trivselplus@localhost
echo "  modtag CPU: $(( ($(cpu_ms) - before) / N )) ms per message"
echo "modtag's peak RSS: $(awk '/^VmHWM/ {print $2, $3}' "/proc/$mpid/status")"
