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
sed -e "s/127.0.0.1:2525/127.0.0.1:$MP/; s/127.0.0.1:8080/127.0.0.1:$HP/; s/127.0.0.1:8081/127.0.0.1:$((HP + 1))/" \
    -e "s#\"directory.toml\"#\"$root/deploy/demo/directory.toml\"#" \
    -e "s#\"beslutningstrae.toml\"#\"$root/deploy/demo/beslutningstrae.toml\"#" \
    -e "s#\"keys/auditor.cert.asc\"#\"$root/deploy/demo/keys/auditor.cert.asc\"#" \
    -e "s/^max_messages_per_minute_per_client = .*/max_messages_per_minute_per_client = 100000000/" \
    -e "s/^max_sessions_per_client = .*/max_sessions_per_client = 1000/" \
    -e "/^\[kvittering\]/,/^enabled/ s/^enabled = true/enabled = false/" \
    "$root/deploy/demo/modtag.toml" > "$work/modtag.toml"
"$bin" serve --config "$work/modtag.toml" --data "$work/data" > "$work/log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$HP/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
c0=$(cpu) t0=$(date +%s.%N)
smtp-source -d -s 20 -m "$N" -l "$size" -f bench@example.org -t underretning@localhost "127.0.0.1:$MP"
c1=$(cpu) t1=$(date +%s.%N)
printf "%s, %s bytes: %.0f msg/s, %.3f ms CPU per message\n" "$bin" "$size" \
  "$(echo "$N / ($t1 - $t0)" | bc -l)" "$(echo "($c1 - $c0) * 1000 / $(getconf CLK_TCK) / $N" | bc -l)"
