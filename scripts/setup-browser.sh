#!/usr/bin/env bash
# Make sure a headless Chromium exists: the report tests render the HTML report in it
# and screenshot it, as a person would look at it. Debian's package `chromium`.
# Prints the browser's path on stdout when it is there.
set -euo pipefail
say() { printf '[setup] %s\n' "$*" >&2; }

find_browser() {
  local name
  for name in chromium chromium-browser google-chrome; do
    if command -v "$name" >/dev/null 2>&1; then
      command -v "$name"
      return 0
    fi
  done
  return 1
}

if browser=$(find_browser); then
  echo "$browser"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  say "no headless Chromium found; the report tests need one."
  say "install it with: sudo apt-get install chromium   (Debian/Ubuntu), then run again"
  exit 1
fi
say "installing chromium (apt-get; a few minutes on a new machine)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >/dev/null
if ! browser=$(find_browser); then
  say "apt-get installed chromium but no chromium command is on PATH"
  exit 1
fi
say "ready: $browser ($("$browser" --version 2>/dev/null || echo 'version unknown'))"
echo "$browser"
