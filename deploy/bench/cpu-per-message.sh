#!/usr/bin/env bash
# modtag's CPU time per message at intake: 20 sessions of smtp-source, WARM messages first
# (default none), then N messages of SIZE bytes, and the daemon's user plus system time
# around those N. For comparing two builds alternately (BENCHMARKS.md, issues 28 and 33).
# The data directory is on tmpfs, so that the disk cannot disturb the figure; with
# DISK=ext4, on a fresh loop-mounted ext4 as smtp-intake.sh uses (needs root), so that the
# durable writes' own cost counts. KVITTERING=true turns the kvittering on: each message's
# kvittering is then delivered to smtp-sink, and the CPU figure waits for the outbox to be
# empty, so it includes the delivery.
#
# Usage: [DISK=ext4] [WARM=1000] [KVITTERING=true] deploy/bench/cpu-per-message.sh BINARY [N] [SIZE]
#        (needs smtp-source)
set -euo pipefail
bin=$1 N=${2:-2000} size=${3:-20480}
root=$(cd "$(dirname "$0")/../.." && pwd)
MP=2655 HP=8210
source "$root/deploy/bench/config.sh"
if [[ ${DISK:-} == ext4 ]]; then
  work=$(mktemp -d /tmp/modtag-cpu.XXXXXX)
  trap 'kill "${pid:-}" 2>/dev/null || true; bench_sink_stop; wait 2>/dev/null || true; bench_disk_remove "$work"' EXIT
  bench_disk "$work" || exit 1
else
  work=$(mktemp -d /dev/shm/modtag-cpu.XXXXXX)
  trap 'kill "${pid:-}" 2>/dev/null || true; bench_sink_stop; wait 2>/dev/null || true; rm -rf "$work"' EXIT
fi
bench_config "$root" $MP $HP $((HP + 1)) "${KVITTERING:-false}" > "$work/modtag.toml"
bench_sink $((MP + 1))
"$bin" serve --config "$work/modtag.toml" --data "$work/data" > "$work/log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$HP/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
source_run() { smtp-source -d -s 20 -m "$1" -l "$size" -f bench@example.org -t underretning@localhost "127.0.0.1:$MP"; }
# Each message gets its kvittering when it is on: the outbox delivers as many.
sent() { [[ ${KVITTERING:-} == true ]] && echo "$1" || echo 0; }
if ((${WARM:-0} > 0)); then source_run "$WARM"; bench_drained "$work/log" "$(sent "$WARM")"; fi
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
c0=$(cpu) t0=$(date +%s.%N)
source_run "$N"
t1=$(date +%s.%N)
bench_drained "$work/log" "$(sent $((${WARM:-0} + N)))"   # their delivery is part of the work
c1=$(cpu)
printf "%s, %s bytes: %.0f msg/s, %.3f ms CPU per message\n" "$bin" "$size" \
  "$(echo "$N / ($t1 - $t0)" | bc -l)" "$(echo "($c1 - $c0) * 1000 / $(getconf CLK_TCK) / $N" | bc -l)"
