#!/usr/bin/env bash
# Seeds each fuzz target's corpus with the captured status-page fixtures, then (with an
# argument) runs every target for that many seconds:
#   bash fuzz/seed.sh          # seed only
#   bash fuzz/seed.sh 60       # seed, then 60 s per target (needs nightly + cargo-fuzz)
# The config target starts from the shipped monitor.toml, the README's TOML blocks and the
# configs the tests write.
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
# Configs: the shipped one, the README's blocks, and every config the tests write inline.
mkdir -p corpus/config
cp ../monitor.toml corpus/config/
awk '/^```toml/{n++; f=1; next} /^```/{f=0} f{print > ("corpus/config/readme-" n ".toml")}' ../README.md
python3 - <<'PY'
import pathlib, re
for test in pathlib.Path("../tests").glob("*.rs"):
    for i, m in enumerate(re.finditer(r'"(\[\[?[a-z_.]+\]\]?\\n(?:[^"\\]|\\.)*)"', test.read_text())):
        text = m.group(1).encode().decode("unicode_escape", "ignore")
        pathlib.Path(f"corpus/config/{test.stem}-{i}.toml").write_text(text)
PY
if [[ $# -ge 1 ]]; then
    for t in statuspage instatus_checkly incidentio_betterstack_rootly statusio_upptime feed html provider config; do
        cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$1" -max_len=262144
    done
fi
