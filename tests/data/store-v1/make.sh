#!/usr/bin/env bash
# Makes the fixture in this folder: a data directory written by an earlier modtag, and what
# that modtag answered about it (expected/), for tests/e2e/upgrade.rs, which checks that
# today's modtag opens it and reads everything back the same.
#
# Usage: make.sh OLD_MODTAG   (a `modtag` binary built from the commit named in README.md)
# Needs swaks and curl. Runs the old daemon on 127.0.0.1:2725 (SMTP) and :8280 (HTTP) with
# the demo configuration; its relay port is closed, so the routed copies stay in the outbox.
set -euo pipefail
old=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
SMTP=2725 HTTP=8280
demo=$root/deploy/demo
sed -e "s/127.0.0.1:2525/127.0.0.1:$SMTP/; s/127.0.0.1:8080/127.0.0.1:$HTTP/; s/port = 2526/port = 9/" \
    -e "s#\"directory.toml\"#\"$demo/directory.toml\"#" \
    -e "s#\"beslutningstrae.toml\"#\"$demo/beslutningstrae.toml\"#" \
    -e "s#\"keys/auditor.cert.asc\"#\"$demo/keys/auditor.cert.asc\"#" \
    "$demo/modtag.toml" > "$work/modtag.toml"
"$old" serve --config "$work/modtag.toml" --data "$work/data" > "$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$HTTP/healthz" >/dev/null && break; sleep 0.1; done
m() { "$old" --data "$work/data" --actor "Lene Holm" "$@"; }
send() { swaks --server "127.0.0.1:$SMTP" --hide-all "$@" ; }

m cases import <(printf '%s\n' "case_number,cpr,child_name,raadgiver,area,institution,status" \
  "SAG-100,120315-4321,Emil Hansen,anna.kristensen,dagtilbud,solsikken,open" \
  "SAG-101,010120-4003,Ida Jensen,bo.nielsen,skole,bakkeskolen,closed")
# 1: a professional's underretning about a child with one open case: auto-linked.
send --to underretning@localhost --from leder@solsikken.dk \
  --header "Subject: Bekymring for Emil" \
  --body $'Vi er bekymrede for Emil, cpr 120315-4321.\n\nMed venlig hilsen\nMette Jørgensen\nLeder, Børnehuset Solsikken'
# 2: a citizen's underretning with an attachment, and an akut word.
printf '%%PDF-1.4\n%% notat\n' > "$work/notat.pdf"
send --to underretning@localhost --from nabo@example.org \
  --header "Subject: Jeg er bekymret" --attach-type application/pdf --attach "@$work/notat.pdf" \
  --body "Barnet i nr. 3 (cpr 010120-4003) bliver slået, og det haster."
# 3: Send sikkert for TRIVSEL+.
send --to trivselplus@localhost --from leder@friskolen.dk \
  --header "Subject: Trivsel+ Karen Poulsen" --body "CVR 13585628. Vi ønsker et tværfagligt møde."
# 4: mail for Journalen to pass on.
send --to postfordeling@localhost --from kontor@bakkeskolen.dk \
  --header "Subject: Til rette vedkommende" --body "Vedlagt referat fra mødet."
# 5: one more, left unassessed.
send --to underretning@localhost --from sundhedsplejerske@example.org \
  --header "Subject: Underretning" --body "Barnet med cpr 120315-4321 vejer for lidt."

r() { printf 'MT-%s-%06d' "$(date -u +%Y)" "$1"; }
m triage decide "$(r 1)" --existing-case --case SAG-100 --trin 3 --note "Kendt sag" >/dev/null
m triage decide "$(r 2)" --trin 4 --akut >/dev/null
m triage task "$(r 2)" indkald_underretningsmoede --done >/dev/null
m triage kind "$(r 4)" underretning --reason "Et referat med bekymring" >/dev/null
m triage decide "$(r 3)" --trin 1 --consent --consent-by forældre --consent-how mundtligt \
  --area privat_skole --institution friskolen >/dev/null
m triage close "$(r 3)" --reason "Videre til lederne" >/dev/null

rm -rf "$here/data" "$here/expected"
mkdir -p "$here/expected"
m triage list --all --json > "$here/expected/list.json"
for n in 1 2 3 4 5; do m triage show "$(r "$n")" --json > "$here/expected/$(r "$n").json"; done
m cases export --format json > "$here/expected/cases.json"
kill -TERM "$pid"; wait "$pid" || true
"$old" --data "$work/data" audit verify --json > "$here/expected/audit-verify.json"
install -m 600 "$demo/keys/auditor.key.asc" "$work/auditor.key.asc"
"$old" --data "$work/data" audit read --key "$work/auditor.key.asc" > "$here/expected/audit.jsonl"
cp -a "$work/data" "$here/data"
rm -f "$here/data/daemon.json"
du -sh "$here/data"
