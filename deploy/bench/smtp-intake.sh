#!/usr/bin/env bash
# Benchmark of durable, encrypted SMTP intake (issue 3), reported in BENCHMARKS.md.
#
# In one run, on this machine: modtag (release build, embedded demo policy, fresh data
# directory) and a local Postfix 3.7 that accepts and discards (its queue is durable like
# ours), each fed by the same clients:
#   - smtp-source (Debian's postfix package): 20 sessions, N messages, persistent connections;
#   - smtp-load (tests/src/bin/smtp-load.rs): the same load, with per-message latency.
# The kvittering is turned off: Postfix only queues, and a kvittering is an outgoing message
# of its own (with it on, modtag commits twice per message; see BENCHMARKS.md). KVITTERING=true
# in the environment keeps it on: every message then gets its kvittering, which modtag's
# outbox delivers to smtp-sink during the run (Postfix's own queue manager delivers to its
# discard agent during its run), and the CPU figure is given twice: when the clients are
# done, and when the outbox is empty.
# Sizes 20 KB and 500 KB. Also modtag's peak RSS, the RSS cost of one 50 MiB message, and of
# idle sessions.
#
# Usage: deploy/bench/smtp-intake.sh [N]    (default N=2000; needs root for Postfix)
set -euo pipefail
N=${1:-2000}
SESSIONS=20
root=$(cd "$(dirname "$0")/../.." && pwd)
# Both servers keep their queues on a fresh ext4 with its journal, as a server's disk would
# be (see bench_disk in config.sh).
work=$(mktemp -d /tmp/modtag-bench.XXXXXX)
source "$root/deploy/bench/config.sh"
cleanup() {
  [[ -n ${mpid:-} ]] && kill "$mpid" 2>/dev/null || true
  bench_sink_stop
  [[ -n ${ppid_:-} ]] && postfix -c "$work/pf/etc" stop >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  bench_disk_remove "$work"
}
trap cleanup EXIT
bench_disk "$work" || exit 1
chmod 755 "$work"   # Postfix's unprivileged processes must reach its queue below it
MP=2625 HP=8180 PP=2725
cd "$root"
cargo build --release --quiet -p modtag-intake --bin modtag -p modtag-tests --bin smtp-load
M=$root/target/release/modtag
L=$root/target/release/smtp-load

# --- modtag -------------------------------------------------------------------------------
bench_config "$root" $MP $HP $((HP + 1)) "${KVITTERING:-false}" > "$work/modtag.toml"
bench_sink $((MP + 1))   # modtag's relay
start_modtag() {
  rm -rf "$work/data"
  "$M" serve --config "$work/modtag.toml" --data "$work/data" > "$work/modtag.log" 2>&1 &
  mpid=$!
  for _ in $(seq 100); do
    # Our own daemon must be the one answering (not one left over on the same port).
    kill -0 "$mpid" 2>/dev/null || { echo "modtag exited:"; cat "$work/modtag.log"; exit 1; }
    curl -sf "http://127.0.0.1:$HP/healthz" >/dev/null 2>&1 && return
    sleep 0.1
  done
  echo "modtag did not start"; cat "$work/modtag.log"; exit 1
}
stop_modtag() { kill "$mpid"; wait "$mpid" || true; mpid=; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$mpid/status"; }
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$mpid/status"; }
# modtag's CPU time (user + system) so far, in milliseconds: a figure that the other tenants
# of a shared machine disturb less than a rate.
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / hz)}' "/proc/$mpid/stat"; }

# --- Postfix, accepting and discarding ----------------------------------------------------
pf=$work/pf
mkdir -p "$pf/etc" "$pf/queue" "$pf/data"
cp /etc/postfix/master.cf /etc/postfix/dynamicmaps.cf "$pf/etc/"
cp -r /etc/postfix/dynamicmaps.cf.d "$pf/etc/" 2>/dev/null || true
chown postfix "$pf/data"
cat > "$pf/etc/main.cf" <<EOT
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
mail_owner = postfix
myhostname = bench.localhost
mydestination = localhost
inet_interfaces = loopback-only
inet_protocols = ipv4
local_recipient_maps =
alias_maps =
alias_database =
local_transport = discard
default_transport = discard
mynetworks = 127.0.0.0/8
smtpd_recipient_restrictions = permit_mynetworks, reject
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
default_process_limit = 100
maillog_file = /dev/stdout
EOT
sed -i "s/^smtp      inet  n       -       y       -       -       smtpd/$PP      inet  n       -       n       -       -       smtpd/" "$pf/etc/master.cf"
# Postfix only accepts a non-default configuration directory that its default one names.
postconf -e "alternate_config_directories = $pf/etc"
postfix -c "$pf/etc" start-fg > "$work/postfix.log" 2>&1 &
ppid_=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$PP) 2>/dev/null && break; sleep 0.1; done
(exec 3<>/dev/tcp/127.0.0.1/$PP) 2>/dev/null || { echo "Postfix did not start:"; cat "$work/postfix.log"; exit 1; }

source_run() { # port size
  local t0 t1
  t0=$(date +%s.%N)
  smtp-source -d -s $SESSIONS -m "$N" -l "$2" -f bench@example.org -t underretning@localhost "127.0.0.1:$1" >/dev/null \
    || { echo "smtp-source failed against port $1" >&2; exit 1; }
  t1=$(date +%s.%N)
  echo "$N / ($t1 - $t0)" | bc -l | xargs printf "%.0f"
}

echo "# smtp-intake benchmark, $(date -u +%FT%TZ), N=$N, $SESSIONS sessions, $(nproc) cores"
for size in 20480 512000; do
  start_modtag
  m_src=$(source_run $MP $size)
  m_load=$("$L" "127.0.0.1:$MP" $SESSIONS "$N" $size)
  m_cpu=$(cpu_ms)   # before the count below, which decrypts every item
  # Every message is owed a kvittering: the outbox delivers as many.
  if [[ ${KVITTERING:-} == true ]]; then bench_drained "$work/modtag.log" $((2 * N)) || exit 1; fi
  m_cpu_sent=$(cpu_ms)
  m_count=$(curl -sf --unix-socket "$work/data/modtag.sock" "http://localhost/api/v1/triage" | grep -o '"reference"' | wc -l)
  m_hwm=$(hwm)
  stop_modtag
  p_src=$(source_run $PP $size)
  p_load=$("$L" "127.0.0.1:$PP" $SESSIONS "$N" $size)
  echo "size $size: smtp-source msg/s modtag $m_src, postfix $p_src, ratio $(echo "$m_src / $p_src" | bc -l | xargs printf "%.2f")"
  echo "  smtp-load modtag:  $m_load"
  echo "  smtp-load postfix: $p_load"
  echo "  modtag peak RSS: $((m_hwm / 1024)) MiB; CPU $(echo "$m_cpu / (2 * $N)" | bc -l | xargs printf "%.2f") ms per message ($(echo "$m_cpu_sent / (2 * $N)" | bc -l | xargs printf "%.2f") with the outbox empty); intakes stored: $m_count (expected $((2 * N)))"
done

# Memory: one 50 MiB message, and 200 idle sessions.
start_modtag
before=$(rss)
"$L" "127.0.0.1:$MP" 1 1 $((50 * 1024 * 1024 - 4096)) >/dev/null
echo "one 50 MiB message: peak RSS $(( $(hwm) / 1024 )) MiB (was $((before / 1024)) MiB before it)"
before=$(rss)
exec 4< <(for i in $(seq 200); do exec {fd}<>/dev/tcp/127.0.0.1/$MP; done; sleep 5)
sleep 3
echo "200 idle sessions: RSS +$(( ($(rss) - before) )) KiB, $(( ($(rss) - before) / 200 )) KiB each"
stop_modtag
