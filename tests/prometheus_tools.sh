#!/usr/bin/env bash
# Fetches Prometheus tooling from Debian's packages without installing them as services:
# `apt-get download` + `dpkg-deb -x` into target/prometheus-tools, so nothing starts and
# nothing outside the repo changes. Prints the folder holding the binaries.
#   prometheus-alertmanager  the Alertmanager channel's test posts to a real one
#   promtool                 checks deploy/prometheus/upwatch-rules.yml
#   prometheus-blackbox-exporter, for bench/run
set -euo pipefail
cd "$(dirname "$0")/.."
dest="$PWD/target/prometheus-tools"
bin="$dest/usr/bin"
want=(prometheus-alertmanager:prometheus-alertmanager prometheus:promtool
      prometheus-blackbox-exporter:prometheus-blackbox-exporter)
missing=()
for pair in "${want[@]}"; do
    [ -x "$bin/${pair#*:}" ] || missing+=("${pair%%:*}")
done
if [ ${#missing[@]} -gt 0 ]; then
    debs="$(mktemp -d)"
    # apt-get download writes to the current folder; _apt may not read a mktemp folder.
    chmod 755 "$debs"
    if ! (cd "$debs" && apt-get download -qq "${missing[@]}" >/dev/null 2>&1); then
        sudo=""
        if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
        $sudo apt-get update -qq >/dev/null
        (cd "$debs" && apt-get download -qq "${missing[@]}" >/dev/null)
    fi
    mkdir -p "$dest"
    for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$dest"; done
    rm -rf "$debs"
fi
# Debian's Alertmanager reads its notification templates from a fixed path.
tmpl=/usr/share/prometheus/alertmanager
if [ ! -f "$tmpl/default.tmpl" ] || [ ! -f "$tmpl/email.tmpl" ]; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    $sudo mkdir -p "$tmpl"
    $sudo cp -R "$dest$tmpl/." "$tmpl/"
fi
echo "$bin"
