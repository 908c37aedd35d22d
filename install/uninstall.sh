#!/usr/bin/env bash
# Remove commune-radio: stop and disable the units (relays are switched off by the daemon's
# ExecStopPost), remove the units, the virtual environments and the command link.
# The configuration (/etc/commune-radio) and the data (/var/lib/commune-radio: play log, media,
# accounts) are kept unless --purge is given; --purge also removes the commune-radio user.
#
#   sudo install/uninstall.sh [--purge] [--root DIR] [--skip-systemctl]
set -euo pipefail

APP=commune-radio
ROOT=""
PURGE=no
SKIP_SYSTEMCTL=no
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT="$(cd "${2:?--root needs a directory}" && pwd)"; shift 2 ;;
    --purge) PURGE=yes; shift ;;
    --skip-systemctl) SKIP_SYSTEMCTL=yes; shift ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "Cần quyền root / run as root (sudo)." >&2; exit 1; }
[ "$ROOT" = "/" ] && ROOT=""

units=("$APP-panel.service" "$APP.service")
if [ "$SKIP_SYSTEMCTL" = no ]; then
  if [ -n "$ROOT" ]; then
    systemctl --root="$ROOT" disable --quiet "${units[@]}" 2>/dev/null || true
  else
    systemctl disable --now --quiet "${units[@]}" 2>/dev/null || true
  fi
fi
for unit in "${units[@]}"; do
  rm -f "$ROOT/etc/systemd/system/$unit"
done
rm -f "$ROOT/etc/systemd/journald.conf.d/$APP.conf"
[ -n "$ROOT" ] || [ "$SKIP_SYSTEMCTL" = yes ] || systemctl daemon-reload
if [ "$(readlink "$ROOT/usr/local/bin/$APP" 2>/dev/null || true)" = "/opt/$APP/current/bin/$APP" ]; then
  rm -f "$ROOT/usr/local/bin/$APP"
fi
rm -rf "$ROOT/opt/$APP"
echo "== commune-radio removed (units, /opt/$APP)"

if [ "$PURGE" = yes ]; then
  rm -rf "$ROOT/etc/$APP" "$ROOT/var/lib/$APP"
  prefix=()
  [ -z "$ROOT" ] || prefix=(--prefix "$ROOT")
  if grep -q "^$APP:" "$ROOT/etc/passwd"; then userdel "${prefix[@]}" "$APP"; fi
  if grep -q "^$APP:" "$ROOT/etc/group"; then groupdel "${prefix[@]}" "$APP"; fi
  echo "== purged configuration, data and the $APP user"
else
  echo "   kept /etc/$APP and /var/lib/$APP (use --purge to remove them)"
fi
