#!/usr/bin/env bash
# modtag's CPU time per message at intake, with the data directory on tmpfs so that the disk
# (and the file system's state after many deletions) cannot disturb the figure: 20 sessions
# of smtp-source, N messages of SIZE bytes, the daemon's user plus system time around it.
# For comparing two builds alternately (BENCHMARKS.md, issue 28).
#
# Usage: deploy/bench/cpu-per-message.sh BINARY [N] [SIZE]   (needs smtp-source and /dev/shm)
set -euo pipefail
bin=$1 N=${2:-2000} size=${3:-20480}
root=$(cd "$(dirname "$0")/../.." && pwd)
MP=2655 HP=8210
work=$(mktemp -d /dev/shm/modtag-cpu.XXXXXX)
trap 'kill "${pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
source "$root/deploy/bench/config.sh"
bench_config "$root" $MP $HP $((HP + 1)) false > "$work/modtag.toml"
"$bin" serve --config "$work/modtag.toml" --data "$work/data" > "$work/log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$HP/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
c0=$(cpu) t0=$(date +%s.%N)
smtp-source -d -s 20 -m "$N" -l "$size" -f bench@example.org -t underretning@localhost "127.0.0.1:$MP"
c1=$(cpu) t1=$(date +%s.%N)
printf "%s, %s bytes: %.0f msg/s, %.3f ms CPU per message\n" "$bin" "$size" \
  "$(echo "$N / ($t1 - $t0)" | bc -l)" "$(echo "($c1 - $c0) * 1000 / $(getconf CLK_TCK) / $N" | bc -l)"
