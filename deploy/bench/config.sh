# Sourced by the benchmarks: the demo configuration on the given ports, with the per-client
# caps raised as for one trusted relay, and the kvittering on or off. Its relay is on
# SMTP_PORT + 1 (bench_sink). With the kvittering on, every message gets its kvittering by
# mail: all the clients' messages come from one address that nothing proves, which the demo
# would send only three kvitteringer a day (issue 26), and a benchmark with the kvittering
# on that sent none would not measure the kvittering.
#
# bench_config ROOT SMTP_PORT HTTP_PORT PUBLIC_PORT KVITTERING [more sed arguments] > FILE
bench_config() {
  local root=$1 smtp=$2 http=$3 public=$4 kvittering=$5
  shift 5
  set -- -e "s/^port = 2526$/port = $((smtp + 1))/" \
    -e "s/^max_per_unproven_address_per_day = .*/max_per_unproven_address_per_day = 1000000000/" "$@"
  sed -e "s/127.0.0.1:2525/127.0.0.1:$smtp/; s/127.0.0.1:8080/127.0.0.1:$http/; s/127.0.0.1:8081/127.0.0.1:$public/" \
      -e "s#\"directory.toml\"#\"$root/deploy/demo/directory.toml\"#" \
      -e "s#\"beslutningstrae.toml\"#\"$root/deploy/demo/beslutningstrae.toml\"#" \
      -e "s#\"keys/auditor.cert.asc\"#\"$root/deploy/demo/keys/auditor.cert.asc\"#" \
      -e "s#\"logo.svg\"#\"$root/deploy/demo/logo.svg\"#" \
      -e "s/^max_messages_per_minute_per_client = .*/max_messages_per_minute_per_client = 100000000/" \
      -e "s/^max_sessions_per_client = .*/max_sessions_per_client = 1000/" \
      -e "/^\[kvittering\]/,/^enabled/ s/^enabled = true/enabled = $kvittering/" \
      "$@" "$root/deploy/demo/modtag.toml"
}

# bench_disk DIR: a fresh 8 GiB ext4 with its journal, loop-mounted on DIR (which exists),
# its image beside DIR. This machine's root is an ext4 without a journal, where every file
# created within minutes of deletions nearby scans past the deleted inodes (ext4's
# `recently_deleted`), so a run measured the clean-up of the run before it (issue 33). The
# loop device reads and writes its image with direct IO: buffered, it kept a second copy of
# every page in the page cache and copied it out on writeback, which slowed the second
# client of a run by a third at 500 KB (a cost no real disk has). Needs root.
# bench_disk_remove DIR undoes it.
bench_disk() {
  local dir=$1 dev
  truncate -s 8G "$dir.ext4" && mkfs.ext4 -q -F "$dir.ext4" \
    && dev=$(losetup --find --show --direct-io=on "$dir.ext4") \
    || { echo "could not make a loop device for the benchmark (needs root and a loop device)"; return 1; }
  # A device that could not be mounted is let go at once: bench_disk_remove finds devices
  # by their mount, and would leave this one attached.
  mount "$dev" "$dir" \
    || { losetup --detach "$dev"; echo "could not mount $dev on $dir for the benchmark"; return 1; }
}
bench_disk_remove() {
  local dir=$1 dev
  dev=$(findmnt -n -o SOURCE "$dir" 2>/dev/null) || true
  umount "$dir" 2>/dev/null || true
  [[ -n $dev ]] && losetup --detach "$dev" 2>/dev/null || true
  # And any other loop device still on the image (a run cut off between the two steps).
  losetup --associated "$dir.ext4" 2>/dev/null | cut -d: -f1 | xargs -r -n1 losetup --detach 2>/dev/null || true
  rm -rf "$dir" "$dir.ext4"
}

# bench_sink PORT: Postfix's smtp-sink on loopback PORT, accepting and discarding what
# modtag's outbox delivers (the kvitteringer), in the background; bench_sink_stop ends it.
bench_sink() {
  local as=()
  ((EUID == 0)) && as=(-u nobody)   # smtp-sink will not run as root
  smtp-sink "${as[@]}" 127.0.0.1:"$1" 256 &
  sink_pid=$!
}
bench_sink_stop() {
  [[ -n ${sink_pid:-} ]] && kill "$sink_pid" 2>/dev/null || true
  sink_pid=
}

# bench_drained LOG COUNT: waits (up to a minute) until the daemon writing LOG has
# delivered COUNT messages in all (its "delivered" lines), so that a CPU figure read after
# it includes the kvitteringer's delivery.
bench_drained() {
  for _ in $(seq 600); do
    (($(grep -cE '[m:] delivered ' "$1" || true) >= $2)) && return
    sleep 0.1
  done
  echo "the outbox did not deliver $2 messages within a minute: no CPU figure" >&2
  return 1
}
