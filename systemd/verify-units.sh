#!/usr/bin/env bash
# Check the units the way CI does: `systemd-analyze verify` inside a throwaway root (the units
# reference /opt/commune-radio/current/bin/commune-radio, which exists only on an installed
# station, so a stub executable stands in for it; commune-central.service references
# /opt/commune-central/current/bin/commune-central, likewise), then print `systemd-analyze
# security` exposure for each unit and fail if the daemon's is above 3.0 or central's above 2.0.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
max_daemon_exposure="${MAX_DAEMON_EXPOSURE:-3.0}"
max_central_exposure="${MAX_CENTRAL_EXPOSURE:-2.0}"
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT

mkdir -p "$root/opt/commune-radio/current/bin" "$root/opt/commune-central/current/bin" \
  "$root/etc/systemd/system" "$root/usr/lib/systemd"
for exe in commune-radio/current/bin/commune-radio commune-central/current/bin/commune-central; do
  printf '#!/bin/sh\nexit 0\n' > "$root/opt/$exe"
  chmod 755 "$root/opt/$exe"
done
# The host's own units (sysinit.target, network-online.target, ...) that ours depend on.
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
units=()
for unit in "$here"/*.service; do
  cp "$unit" "$root/etc/systemd/system/"
  units+=("$(basename "$unit")")
done

out="$(systemd-analyze verify --root="$root" "${units[@]}" 2>&1)" || { echo "$out" >&2; exit 1; }
if [ -n "$out" ]; then
  echo "systemd-analyze verify reported problems:" >&2
  echo "$out" >&2
  exit 1
fi
echo "systemd-analyze verify: ${units[*]}: OK"

status=0
for unit in "${units[@]}"; do
  line="$(systemd-analyze security --offline=yes --no-pager "$root/etc/systemd/system/$unit" 2>&1 | grep 'Overall exposure level')"
  echo "$line"
  level="$(echo "$line" | sed -E 's/.*: ([0-9]+\.[0-9]+).*/\1/')"
  if [ "$unit" = commune-radio.service ] && awk -v a="$level" -v b="$max_daemon_exposure" 'BEGIN{exit !(a>b)}'; then
    echo "commune-radio.service exposure $level is above $max_daemon_exposure" >&2
    status=1
  fi
  if [ "$unit" = commune-central.service ] && awk -v a="$level" -v b="$max_central_exposure" 'BEGIN{exit !(a>b)}'; then
    echo "commune-central.service exposure $level is above $max_central_exposure" >&2
    status=1
  fi
done
exit "$status"
