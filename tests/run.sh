#!/usr/bin/env bash
# The test suite, as the README's quick start and CI run it. The email tests talk to a real
# SMTP server (Python's aiosmtpd, from PyPI); it is installed here when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c "import aiosmtpd" 2>/dev/null; then
    python3 -m pip install --quiet aiosmtpd 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages aiosmtpd
fi
exec cargo test "$@"
