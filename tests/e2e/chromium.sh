#!/bin/sh
# Install Debian's Chromium for the report tests (tests/e2e/test_report_html.py) unless one is already there.
# Usage: tests/e2e/chromium.sh   (as root, or with sudo available). Prints the browser's path.
set -eu
for name in chromium chromium-browser; do
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; exit 0; fi
done
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium
