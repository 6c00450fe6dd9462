#!/usr/bin/env bash
# Refreshes the vendored Det Fælles Designsystem (DKFDS) in intake/static/dkfds/ from npm:
# the base stylesheet, the IBM Plex Sans woff2 faces it uses, the icons it references, and
# the licences. modtag serves them itself (no CDN, no external asset).
#   deploy/refresh-dkfds.sh [VERSION]     # default: the newest 11.x
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-11}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "dkfds@$version" >/dev/null && tar xzf dkfds-*.tgz)
src=$work/package/dist
dst=intake/static/dkfds
rm -rf "$dst"
mkdir -p "$dst/css" "$dst/fonts/IBMPlexSans/complete/woff2" "$dst/img/svg-icons"
# The base for the desk; the virk.dk theme for Send sikkert (a business's channel) and the
# borger.dk theme for the underretning form (the public forms, issue 15).
for css in dkfds dkfds-virkdk dkfds-borgerdk; do
  cp "$src/css/$css.min.css" "$dst/css/"
done
for face in Regular Italic Medium SemiBold Bold; do
  cp "$src/fonts/IBMPlexSans/complete/woff2/IBMPlexSans-$face.woff2" "$dst/fonts/IBMPlexSans/complete/woff2/"
done
cp "$src/fonts/IBMPlexSans/complete/woff2/license.txt" "$dst/fonts/IBMPlexSans/"
cat "$dst"/css/*.min.css | grep -o 'svg-icons/[A-Za-z0-9_-]*\.svg' | sort -u | while read -r icon; do
  cp "$src/img/$icon" "$dst/img/$icon"
done
cp "$src/LICENSE.md" "$dst/LICENSE.md"
node -p "require('$work/package/package.json').version" > "$dst/VERSION"
echo "DKFDS $(cat "$dst/VERSION") in $dst ($(du -sh "$dst" | cut -f1))"
