#!/usr/bin/env bash
# Seeds each fuzz target's corpus with the captured status-page fixtures, then (with an
# argument) runs every target for that many seconds:
#   bash fuzz/seed.sh          # seed only
#   bash fuzz/seed.sh 60       # seed, then 60 s per target (needs nightly + cargo-fuzz)
set -euo pipefail
cd "$(dirname "$0")"
fixtures=../tests/fixtures/statuspages
for t in statuspage instatus_checkly incidentio_betterstack_rootly statusio_upptime feed html; do
    mkdir -p "corpus/$t"
    find "$fixtures" -type f ! -name '*.md' -exec cp {} "corpus/$t/" \;
done
# Provider answers: error bodies, rate-limit headers, catalog, chat stream.
mkdir -p corpus/provider
find ../tests/fixtures/provider -type f ! -name '*.md' -exec cp {} corpus/provider/ \;
if [[ $# -ge 1 ]]; then
    for t in statuspage instatus_checkly incidentio_betterstack_rootly statusio_upptime feed html provider; do
        cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$1" -max_len=262144
    done
fi
