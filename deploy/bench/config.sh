# Sourced by the benchmarks: the demo configuration on the given ports, with the per-client
# caps raised as for one trusted relay, and the kvittering on or off.
#
# bench_config ROOT SMTP_PORT HTTP_PORT PUBLIC_PORT KVITTERING [more sed arguments] > FILE
bench_config() {
  local root=$1 smtp=$2 http=$3 public=$4 kvittering=$5
  shift 5
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
