#!/usr/bin/env bash
# Install commune-radio on Raspberry Pi OS Bookworm (arm64 or armhf). Idempotent: a second run
# with the same version changes nothing. Uninstall with install/uninstall.sh.
#
#   sudo install/install.sh                      # the whole thing, from this source tree
#   sudo install/install.sh --package FILE.whl   # install a built wheel instead
#
# For CI and image builders (nothing outside DIR is touched):
#   install/install.sh --root DIR --skip-apt [--skip-systemctl] [--package SPEC] [--pip-args "..."]
# --root DIR   install into DIR as the filesystem root (users via useradd/groupadd --prefix, units
#              enabled with `systemctl --root`, never started).
# --skip-apt   do not install Debian packages.
# --skip-systemctl  do not enable or start the units.
# --package SPEC    what pip installs into the new venv (default: this source tree).
# --pip-args "..."  extra pip arguments (e.g. "--no-index --find-links /media/usb/wheels").
set -euo pipefail

APP=commune-radio
SRC="$(cd "$(dirname "$0")/.." && pwd)"
ROOT=""
SKIP_APT=no
SKIP_SYSTEMCTL=no
PACKAGE="$SRC"
PIP_ARGS=""
PYTHON="${PYTHON:-python3}"
APT_PACKAGES=(python3 python3-venv python3-pip espeak-ng ffmpeg libvlc5 libvlc-bin vlc-plugin-base sqlite3 alsa-utils)
# lgpio comes from Debian, not PyPI (ARM wheels only for some Pythons): the venv sees it
# through --system-site-packages.
APT_OPTIONAL=(python3-lgpio)
# armhf (32-bit Raspberry Pi OS): PyPI has no ARMv7 wheels of cffi 2 (which cryptography's armv7l
# wheel needs) nor of argon2-cffi-bindings, so pip would compile them on the Pi. Debian's builds
# serve instead, through the venv's --system-site-packages (install/arm-check.sh proves it).
APT_ARMHF=(python3-cryptography python3-argon2)

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT="$(cd "${2:?--root needs a directory}" && pwd)"; shift 2 ;;
    --skip-apt) SKIP_APT=yes; shift ;;
    --skip-systemctl) SKIP_SYSTEMCTL=yes; shift ;;
    --package) PACKAGE="${2:?--package needs a value}"; shift 2 ;;
    --pip-args) PIP_ARGS="${2-}"; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done

[ "$(id -u)" -eq 0 ] || { echo "Cần quyền root / run as root (sudo)." >&2; exit 1; }
[ "$ROOT" = "/" ] && ROOT=""

OPT="$ROOT/opt/$APP"
ETC="$ROOT/etc/$APP"
DATA="$ROOT/var/lib/$APP"
UNIT_DIR="$ROOT/etc/systemd/system"
VERSION="$(sed -n 's/^__version__ *= *"\(.*\)"/\1/p' "$SRC/appliance/version.py")"
[ -n "$VERSION" ] || { echo "cannot read the version from $SRC/appliance/version.py" >&2; exit 1; }
changed=0

say() { echo "== $*"; }
note_change() { changed=$((changed + 1)); echo "   $*"; }

# ------------------------------------------------------------------ packages
arch="$(dpkg --print-architecture 2>/dev/null || uname -m)"
case "$arch" in
  arm64|armhf) ;;
  *) echo "   note: architecture $arch (made for Raspberry Pi OS arm64/armhf; continuing)" ;;
esac
if [ "$SKIP_APT" = no ]; then
  [ -z "$ROOT" ] || { echo "--root needs --skip-apt (apt cannot install into a prefix)" >&2; exit 2; }
  missing=()
  wanted=("${APT_PACKAGES[@]}")
  [ "$arch" = armhf ] && wanted+=("${APT_ARMHF[@]}")
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  for pkg in "${APT_OPTIONAL[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        && apt-cache show "$pkg" >/dev/null 2>&1; then
      missing+=("$pkg")
    fi
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "apt: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    note_change "installed ${missing[*]}"
  fi
fi

# ------------------------------------------------------------------ users and groups
if [ -n "$ROOT" ]; then
  PREFIX_ARGS=(--prefix "$ROOT")
else
  PREFIX_ARGS=()
fi
has_group() { grep -q "^$1:" "$ROOT/etc/group"; }
has_user() { grep -q "^$1:" "$ROOT/etc/passwd"; }
in_group() { awk -F: -v g="$1" -v u="$2" '$1 == g { n = split($4, m, ","); for (i = 1; i <= n; i++) if (m[i] == u) found = 1 } END { exit !found }' "$ROOT/etc/group"; }
uid_of() { awk -F: -v u="$1" '$1 == u { print $3 }' "$ROOT/etc/passwd"; }
gid_of() { awk -F: -v g="$1" '$1 == g { print $3 }' "$ROOT/etc/group"; }

say "user $APP"
for group in gpio audio "$APP"; do
  if ! has_group "$group"; then
    groupadd "${PREFIX_ARGS[@]}" --system "$group"
    note_change "group $group created"
  fi
done
if ! has_user "$APP"; then
  useradd "${PREFIX_ARGS[@]}" --system --gid "$APP" --groups gpio,audio --home-dir "/var/lib/$APP" \
    --no-create-home --shell /usr/sbin/nologin --comment "Commune radio station" "$APP"
  note_change "user $APP created"
fi
for group in gpio audio; do
  if ! in_group "$group" "$APP"; then
    usermod "${PREFIX_ARGS[@]}" -a -G "$group" "$APP"
    note_change "user $APP added to $group"
  fi
done
APP_UID="$(uid_of "$APP")"
APP_GID="$(gid_of "$APP")"

# ------------------------------------------------------------------ paths and permissions
# ensure_dir PATH MODE UID GID: create or fix, reporting only real changes.
ensure_dir() {
  local path="$1" mode="$2" uid="$3" gid="$4"
  if [ ! -d "$path" ]; then
    mkdir -p "$path"
    note_change "created $path"
  fi
  if [ "$(stat -c '%a %u %g' "$path")" != "$mode $uid $gid" ]; then
    chown "$uid:$gid" "$path"
    chmod "$mode" "$path"
    note_change "permissions $mode $uid:$gid on $path"
  fi
}
# install_file SRC DEST MODE UID GID [once]: copy when different (or only when absent with "once").
install_file() {
  local src="$1" dest="$2" mode="$3" uid="$4" gid="$5" once="${6:-}"
  if [ ! -e "$dest" ] || { [ -z "$once" ] && ! cmp -s "$src" "$dest"; }; then
    install -D -m "$mode" -o "$uid" -g "$gid" "$src" "$dest.tmp-install"
    sync "$dest.tmp-install" 2>/dev/null || true
    mv -f "$dest.tmp-install" "$dest"
    note_change "installed $dest"
  elif [ "$(stat -c '%a %u %g' "$dest")" != "$mode $uid $gid" ]; then
    chown "$uid:$gid" "$dest"
    chmod "$mode" "$dest"
    note_change "permissions $mode $uid:$gid on $dest"
  fi
}
# ensure_link TARGET LINK: atomic (symlink under a temp name, then rename over the old one).
ensure_link() {
  local target="$1" link="$2"
  if [ "$(readlink "$link" 2>/dev/null || true)" != "$target" ]; then
    ln -sfn "$target" "$link.tmp-install"
    mv -Tf "$link.tmp-install" "$link"
    note_change "$link -> $target"
  fi
}

say "paths"
ensure_dir "$OPT" 755 0 0
ensure_dir "$OPT/venvs" 755 0 0
ensure_dir "$ETC" 750 0 "$APP_GID"
ensure_dir "$DATA" 750 "$APP_UID" "$APP_GID"
# The default configuration is copied once and never overwritten: it is the operator's file.
install_file "$SRC/config/appliance.toml" "$ETC/appliance.toml" 640 0 "$APP_GID" once
secrets_template="$(mktemp)"
trap 'rm -f "$secrets_template"' EXIT
cat > "$secrets_template" <<'SECRETS'
# commune-radio secrets (read by the systemd units). Keep this file mode 0640 root:commune-radio.
# Device bearer token issued by central:
#COMMUNE_RADIO_DEVICE_TOKEN=
# Central's Ed25519 public key (base64):
#COMMUNE_RADIO_CENTRAL_PUBLIC_KEY=
# Token for the panel's JSON API (optional):
#COMMUNE_RADIO_API_TOKEN=
SECRETS
install_file "$secrets_template" "$ETC/secrets.env" 640 0 "$APP_GID" once
# The commune's own abbreviations extend (and may override) the dictionary shipped with the package.
abbreviations_template="$(mktemp)"
trap 'rm -f "$secrets_template" "$abbreviations_template"' EXIT
cat > "$abbreviations_template" <<'ABBREVIATIONS'
# Abbreviations this commune adds to the shipped dictionary (config/abbreviations.toml in the
# source). One line per abbreviation: "AB" = "how it is read". An empty value removes a shipped entry.
# Check the result with: commune-radio normalize-text "…"
[abbreviations]
# "HTX" = "hợp tác xã"
ABBREVIATIONS
install_file "$abbreviations_template" "$ETC/abbreviations.toml" 644 0 "$APP_GID" once

# ------------------------------------------------------------------ virtual environment
VENV="$OPT/venvs/$VERSION"
say "virtual environment $VENV"
if [ ! -x "$VENV/bin/$APP" ]; then
  rm -rf "$VENV.tmp-install"
  "$PYTHON" -m venv --system-site-packages "$VENV.tmp-install"
  # shellcheck disable=SC2086
  "$VENV.tmp-install/bin/python" -m pip install --quiet --disable-pip-version-check $PIP_ARGS "$PACKAGE"
  [ -x "$VENV.tmp-install/bin/$APP" ] || { echo "pip did not install the $APP command" >&2; exit 1; }
  # A venv records its own path in its scripts: fix them for the final location, then rename.
  grep -rlF "$VENV.tmp-install" "$VENV.tmp-install/bin" | while read -r f; do
    sed -i "s|$VENV.tmp-install|/opt/$APP/venvs/$VERSION|g" "$f"
  done
  sed -i "s|$VENV.tmp-install|/opt/$APP/venvs/$VERSION|g" "$VENV.tmp-install/pyvenv.cfg"
  mv -T "$VENV.tmp-install" "$VENV"
  note_change "venv $VERSION installed"
fi
ensure_link "venvs/$VERSION" "$OPT/current"
ensure_dir "$ROOT/usr/local/bin" 755 0 0
ensure_link "/opt/$APP/current/bin/$APP" "$ROOT/usr/local/bin/$APP"

# ------------------------------------------------------------------ units and journald
say "systemd units"
for unit in "$SRC"/systemd/*.service; do
  install_file "$unit" "$UNIT_DIR/$(basename "$unit")" 644 0 0
done
journald_conf="$(mktemp)"
cat > "$journald_conf" <<'JOURNALD'
# commune-radio: bounded journal, fewer SD-card writes (urgent messages are still synced at once).
[Journal]
SystemMaxUse=64M
RuntimeMaxUse=32M
SyncIntervalSec=15min
RateLimitIntervalSec=30s
RateLimitBurst=1000
JOURNALD
install_file "$journald_conf" "$ROOT/etc/systemd/journald.conf.d/$APP.conf" 644 0 0
rm -f "$journald_conf"

if [ "$SKIP_SYSTEMCTL" = no ]; then
  if [ -n "$ROOT" ]; then
    for unit in "$APP.service" "$APP-panel.service"; do
      if ! systemctl --root="$ROOT" is-enabled --quiet "$unit" 2>/dev/null; then
        systemctl --root="$ROOT" enable --quiet "$unit"
        note_change "enabled $unit"
      fi
    done
  else
    systemctl daemon-reload
    for unit in "$APP.service" "$APP-panel.service"; do
      systemctl is-enabled --quiet "$unit" 2>/dev/null || { systemctl enable --quiet "$unit"; note_change "enabled $unit"; }
      systemctl is-active --quiet "$unit" || { systemctl start "$unit"; note_change "started $unit"; }
    done
    # Installed units may have changed under a running service.
    [ "$changed" -eq 0 ] || systemctl try-restart "$APP.service" "$APP-panel.service"
  fi
fi

# ------------------------------------------------------------------ next steps
if [ "$changed" -eq 0 ]; then
  say "nothing to change: commune-radio $VERSION is installed"
else
  say "commune-radio $VERSION installed ($changed changes)"
fi
pins="$("$PYTHON" - "$ETC/appliance.toml" <<'PY' 2>/dev/null || true
import sys, tomllib
zones = tomllib.load(open(sys.argv[1], "rb")).get("zones") or [
    {"relay_pin": 17, "active_high": False}, {"relay_pin": 27, "active_high": False}]
for z in zones:
    high = z.get("active_high", False)
    # Off = the relay's inactive level: high for active-low boards, low for active-high ones.
    print(f"gpio={z.get('relay_pin', 17)}=op,{'dl' if high else 'dh'}   # zone {z.get('name', '?')}")
PY
)"
ip="$(hostname -I 2>/dev/null | awk '{print $1}')"
cat <<NEXT

Bước tiếp theo / Next steps:
 1. Mã thiết bị và khoá trung tâm / device token and central key:
      sudo nano /etc/$APP/secrets.env     (COMMUNE_RADIO_DEVICE_TOKEN, COMMUNE_RADIO_CENTRAL_PUBLIC_KEY)
      sudo nano /etc/$APP/appliance.toml  ([device] id, [central] url, [[zones]] relay pins)
      commune-radio --config /etc/$APP/appliance.toml check-config
 2. Rơ-le tắt ngay khi khởi động / relays off from power-on: add to /boot/firmware/config.txt
$(echo "$pins" | sed 's/^/      /')
 3. Khởi động lại dịch vụ / restart: sudo systemctl restart $APP $APP-panel
 4. Bảng điều khiển / panel: http://${ip:-<pi-address>}:8080/  (create the administrator account)
 5. Kiểm tra / check: commune-radio health ; journalctl -u $APP -f
NEXT
