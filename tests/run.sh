#!/usr/bin/env bash
# The test suite, as the README's quick start and CI run it. Some tests need programs from
# outside Cargo, installed here when missing: the email tests talk to a real SMTP server
# (Python's aiosmtpd, from PyPI), the Standard Webhooks test verifies signatures with the
# specification's own Python library (standardwebhooks, from PyPI), the status-page test renders the page in headless
# Chromium (Debian's chromium package; needs root or sudo for apt-get), the container
# test runs the daemon in a bubblewrap sandbox with a read-only root, and the
# Alertmanager tests run Debian's prometheus-alertmanager, promtool and amtool, and the
# unit test runs systemd-analyze (Debian's systemd package), and the clock step test
# preloads Debian's libfaketime.
set -euo pipefail
cd "$(dirname "$0")/.."
for module in aiosmtpd standardwebhooks; do
    if ! python3 -c "import $module" 2>/dev/null; then
        python3 -m pip install --quiet "$module" 2>/dev/null \
            || python3 -m pip install --quiet --break-system-packages "$module"
    fi
done
# Installs Debian packages (root, or sudo) when the command that needs them is missing.
apt_for() {
    local why="$1"
    shift
    local sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    echo "installing Debian's $* for $why" >&2
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    apt_for "the status-page test" chromium fonts-dejavu-core
fi
command -v bwrap >/dev/null 2>&1 || apt_for "the container test" bubblewrap
# systemd-analyze only: nothing boots.
command -v systemd-analyze >/dev/null 2>&1 || apt_for "the unit test" systemd
# ip, for the test that takes loopback down in a private network namespace.
command -v ip >/dev/null 2>&1 || apt_for "the network namespace test" iproute2
# libfaketime, to step the daemon's wall clock (monotonic time untouched).
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1 ] \
    || apt_for "the wall clock step test" libfaketime
# Real Prometheus tooling for the Alertmanager channel and the shipped rules (Debian's
# packages, unpacked under target/, no service started).
UPWATCH_PROM_TOOLS="$(bash tests/prometheus_tools.sh)"
export UPWATCH_PROM_TOOLS
exec cargo test "$@"
