#!/usr/bin/env bash
# Renders `leakscope html` of a dump to PNGs with headless Chromium, at a desktop width (1280 px)
# and at a phone's (390 px), for a visual check of the page (charts, leak labels and shading,
# axes, tables) by a person. A manual check, not part of CI: Chromium is large and its rendering
# is not a test oracle.
#
#   scripts/screenshot-report.sh [DUMP] [OUT-DIR]
#
# DUMP defaults to the CLI tests' fixture, OUT-DIR to target/screenshots; the page is
# OUT-DIR/report.html and the screenshots OUT-DIR/report-WIDTH.png, for each width in
# SCREENSHOT_WIDTHS (default "1280 390"), SCREENSHOT_HEIGHT (default 3200) pixels high. Installs
# Chromium from Debian's packages when it is missing. The page is self-contained; Chromium still
# gets every switch that keeps it from reaching out (updates, sync, background networking, QUIC).
set -euo pipefail
cd "$(dirname "$0")/.."

dump=${1:-leakscope-cli/tests/fixtures/service.json}
dir=${2:-target/screenshots}
widths=${SCREENSHOT_WIDTHS:-1280 390}
height=${SCREENSHOT_HEIGHT:-3200}

chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
  echo "installing chromium (apt-get)" >&2
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  chromium=$(command -v chromium)
fi

cargo build --quiet --bin leakscope
mkdir -p "$dir"
html="$dir/report.html"
target/debug/leakscope html "$dump" -o "$html"

for width in $widths; do
  profile=$(mktemp -d)
  png="$dir/report-$width.png"
  "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
    --user-data-dir="$profile" --window-size="$width,$height" \
    --screenshot="$(realpath -m "$png")" "file://$(realpath "$html")" 2>/dev/null
  rm -rf "$profile"
  echo "$png"
done
echo "(from $html)"
