#!/usr/bin/env bash
# Renders `leakscope html` of a dump to a PNG with headless Chromium, for a visual check of the
# page (charts, axes, tables) by a person. A manual check, not part of CI: Chromium is large and
# its rendering is not a test oracle.
#
#   scripts/screenshot-report.sh [DUMP] [OUT.png]
#
# DUMP defaults to the CLI tests' fixture, OUT.png to target/screenshots/report.png. Installs
# Chromium from Debian's packages when it is missing. The page is self-contained; Chromium still
# gets every switch that keeps it from reaching out (updates, sync, background networking).
set -euo pipefail
cd "$(dirname "$0")/.."

dump=${1:-tests/fixtures/service.json}
png=${2:-target/screenshots/report.png}
width=${SCREENSHOT_WIDTH:-1280}
height=${SCREENSHOT_HEIGHT:-2400}

chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
  echo "installing chromium (apt-get)" >&2
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  chromium=$(command -v chromium)
fi

cargo build --quiet --bin leakscope
mkdir -p "$(dirname "$png")"
html="$(dirname "$png")/$(basename "$png" .png).html"
target/debug/leakscope html "$dump" -o "$html"

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
  --user-data-dir="$profile" --window-size="$width,$height" \
  --screenshot="$(realpath -m "$png")" "file://$(realpath "$html")" 2>/dev/null
echo "$png (from $html)"
