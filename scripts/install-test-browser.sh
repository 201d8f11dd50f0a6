#!/bin/sh
# Installs the headless browser the slow browser tests use (tests/test_report_browser.py): Debian's
# Chromium package. Run once as root before `python -m pytest -m slow`; the tests call it themselves
# when Chromium is missing and they run as root, and skip (saying why) when it cannot be installed.
set -eu
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    echo "chromium: $(command -v chromium || command -v chromium-browser)"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "install Chromium as root: apt-get install -y chromium" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "chromium: $(command -v chromium)"
