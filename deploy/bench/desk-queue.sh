#!/usr/bin/env bash
# Benchmark of the desk's pages at 10,000 open intakes (issue 14), reported in BENCHMARKS.md.
#
# modtag (release build, embedded demo policy, fresh data directory, kvittering off) takes N
# underretninger over SMTP (smtp-load, 20 sessions), and D of them are decided (trin 4, akut:
# a copy to Modtagelsen's leader); then Modtagelsen's leader signs in and desk-load
# (tests/src/bin/desk-load.rs) times R sequential requests of each page: the queue's first
# and a late page, filtered, searched by reference and by CPR, "Sendt til mig" (the D
# decided) and the overview. Each request is one loopback connection, so its time is the
# server's plus a loopback round trip.
#
# Usage: deploy/bench/desk-queue.sh [N] [R] [D]   (default N=10000, R=50, D=200; needs curl)
set -euo pipefail
N=${1:-10000}
R=${2:-50}
D=${3:-200}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/modtag-bench.XXXXXX)
MP=2635 HP=8190
cd "$root"
cargo build --release --quiet -p modtag-intake --bin modtag \
  -p modtag-tests --bin smtp-load --bin desk-load
M=$root/target/release/modtag

cleanup() {
  [[ -n ${mpid:-} ]] && kill "$mpid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

source "$root/deploy/bench/config.sh"
bench_config "$root" $MP $HP $((HP + 1)) false > "$work/modtag.toml"
"$M" serve --config "$work/modtag.toml" --data "$work/data" > "$work/modtag.log" 2>&1 &
mpid=$!
for _ in $(seq 100); do
  kill -0 "$mpid" 2>/dev/null || { echo "modtag exited:"; cat "$work/modtag.log"; exit 1; }
  curl -sf "http://127.0.0.1:$HP/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

echo "loading $N underretninger:"
"$root/target/release/smtp-load" "127.0.0.1:$MP" 20 "$N" 2048 underretning@localhost
echo "deciding $D of them (trin 4, akut)"
year=$(date +%Y)
for i in $(seq "$D"); do
  "$M" --data "$work/data" triage decide "$(printf 'MT-%s-%06d' "$year" "$i")" \
    --trin 4 --akut --json >/dev/null
done
open=$(curl -sf "http://127.0.0.1:$HP/metrics" | awk '/^modtag_items_open / {print $2}')
echo "open intakes: $open"

password="bench $RANDOM $RANDOM korrekt hest"
uri=$(printf '%s\n' "$password" | "$M" --data "$work/data" users add bench \
  --email lene.holm@kommune.localhost --role modtagelsen_leder --json |
  sed -n 's/.*"\(otpauth:[^"]*\)".*/\1/p')
[[ -n $uri ]] || { echo "no TOTP enrolment"; exit 1; }
printf '%s\n%s\n' "$password" "$uri" |
  "$root/target/release/desk-load" "127.0.0.1:$HP" bench "$R"
echo "modtag's peak RSS: $(awk '/^VmHWM/ {print $2, $3}' "/proc/$mpid/status")"
