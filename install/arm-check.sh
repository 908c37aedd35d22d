#!/usr/bin/env bash
# The ARM proof anyone can rerun: a Debian 12 root for arm64 or armhf built with debootstrap and
# run through qemu-user-static (binfmt_misc), then install/install.sh inside it, then
#   arm64: the station's test suite (exclusions below, each with its reason);
#   armhf: the smoke run (imports of every station module and a short `commune-radio demo`).
# Needs root on a Debian/Ubuntu machine; installs debootstrap, qemu-user-static and binfmt-support
# when missing. Nothing outside the root directory changes on the host but those packages and
# the binfmt_misc mount.
#
#   sudo install/arm-check.sh arm64                 # root in /var/tmp/commune-radio-arm64, full suite
#   sudo install/arm-check.sh armhf                 # root in /var/tmp/commune-radio-armhf, smoke run
#   sudo install/arm-check.sh arm64 --smoke         # install + smoke only
#   sudo install/arm-check.sh arm64 --root DIR --log DIR [-- PYTEST ARGS]
#
# The root is kept between runs (debootstrap takes 15-30 minutes emulated); --fresh rebuilds it.
# Every phase's wall time goes to <log>/summary.txt; pytest's report to <log>/pytest.log and
# <log>/junit.xml. Figures and the last run: docs/benchmarks.md ("ARM proof").
set -euo pipefail

SRC="$(cd "$(dirname "$0")/.." && pwd)"
ARCH="${1:-arm64}"
shift || true
MODE=""
ROOT=""
LOG=""
FRESH=no
MIRROR="${ARM_CHECK_MIRROR:-http://deb.debian.org/debian}"
PYTEST_EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) MODE=smoke; shift ;;
    --suite) MODE=suite; shift ;;
    --root) ROOT="$2"; shift 2 ;;
    --log) LOG="$2"; shift 2 ;;
    --fresh) FRESH=yes; shift ;;
    --) shift; PYTEST_EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$ARCH" in
  arm64) QEMU=qemu-aarch64; MODE="${MODE:-suite}" ;;
  armhf) QEMU=qemu-arm; MODE="${MODE:-smoke}" ;;
  *) echo "architecture must be arm64 or armhf, not $ARCH" >&2; exit 2 ;;
esac
ROOT="${ROOT:-/var/tmp/commune-radio-$ARCH}"
LOG="${LOG:-/var/tmp/commune-radio-arm-check-$ARCH}"
[ "$(id -u)" -eq 0 ] || { echo "run as root (debootstrap, chroot, binfmt_misc)" >&2; exit 1; }
mkdir -p "$LOG"
SUMMARY="$LOG/summary.txt"
: > "$SUMMARY"

say() { echo "== $*"; }
# phase NAME COMMAND...: run, time it, record "NAME rc seconds" in the summary.
phase() {
  local name="$1" start rc
  shift
  say "$name"
  start=$(date +%s)
  set +e
  "$@"
  rc=$?
  set -e
  echo "$name rc=$rc seconds=$(( $(date +%s) - start ))" | tee -a "$SUMMARY"
  return "$rc"
}

# ------------------------------------------------------------------ host tools and binfmt_misc
host_tools() {
  local missing=()
  for pkg in debootstrap qemu-user-static binfmt-support; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  [ -e /proc/sys/fs/binfmt_misc/status ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  [ -e "/proc/sys/fs/binfmt_misc/$QEMU" ] || update-binfmts --enable "$QEMU"
  # The F flag: the kernel opens the interpreter once, so the root needs no copy of qemu.
  grep -q '^flags: .*F' "/proc/sys/fs/binfmt_misc/$QEMU" \
    || { echo "binfmt_misc entry $QEMU lacks the F flag: copy /usr/bin/$QEMU-static into the root" >&2; return 1; }
}

# ------------------------------------------------------------------ the root
bootstrap() {
  if [ "$FRESH" = yes ]; then
    unmount_all
    rm -rf "$ROOT"
  fi
  if [ -f "$ROOT/.arm-check-bootstrapped" ]; then
    echo "   kept: $ROOT (--fresh rebuilds it)"
    return 0
  fi
  rm -rf "$ROOT"
  # ca-certificates: pip inside the root verifies PyPI's certificate (see trust_host_cas).
  debootstrap --arch="$ARCH" --variant=minbase --include=ca-certificates bookworm "$ROOT" "$MIRROR" || return 1
  touch "$ROOT/.arm-check-bootstrapped"
}

# A host behind a TLS-inspecting proxy trusts extra CAs: the root must trust the same ones, or pip
# fails with CERTIFICATE_VERIFY_FAILED. pip uses its own bundle unless PIP_CERT says otherwise.
trust_host_cas() {
  mkdir -p "$ROOT/usr/local/share/ca-certificates"
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
  fi
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf" || return 1
  in_root update-ca-certificates --fresh >/dev/null
}

MOUNTED=()
mount_all() {
  local target
  for target in proc sys dev dev/pts dev/shm; do
    mkdir -p "$ROOT/$target"
    mountpoint -q "$ROOT/$target" && continue
    case "$target" in
      proc) mount -t proc proc "$ROOT/proc" ;;
      sys) mount -t sysfs sys "$ROOT/sys" ;;
      dev) mount --bind /dev "$ROOT/dev" ;;
      dev/pts) mount -t devpts devpts "$ROOT/dev/pts" ;;
      dev/shm) mount -t tmpfs -o mode=1777 shm "$ROOT/dev/shm" ;;
    esac
    MOUNTED=("$target" "${MOUNTED[@]}")
  done
}
# armhf under qemu-user on a 64-bit host: a 32-bit program's readdir() fails with EOVERFLOW on
# ext4, whose directory cookies are 64-bit hashes (a real Pi's kernel hands 32-bit programs 32-bit
# cookies). espeak-ng lists its voices that way and finds none ("voice 'vi' not installed"). An
# emulation artefact, so the check works around it: the voice data goes on a tmpfs (small
# cookies) for the run. Nothing changes inside the root's files.
EMULATION_TMPFS=()
[ "$ARCH" = armhf ] && EMULATION_TMPFS=(usr/lib/arm-linux-gnueabihf/espeak-ng-data)
tmpfs_copies() {
  local dir stash
  for dir in "${EMULATION_TMPFS[@]}"; do
    [ -d "$ROOT/$dir" ] || continue
    mountpoint -q "$ROOT/$dir" && continue
    stash="$(mktemp -d)"
    cp -a "$ROOT/$dir/." "$stash/"
    mount -t tmpfs -o size=256m,mode=0755 arm-check "$ROOT/$dir"
    cp -a "$stash/." "$ROOT/$dir/"
    rm -rf "$stash"
    echo "   $dir on tmpfs (32-bit readdir under qemu-user)"
  done
}
unmount_all() {
  local target
  for target in "${EMULATION_TMPFS[@]}"; do
    mountpoint -q "$ROOT/$target" 2>/dev/null && umount -l "$ROOT/$target"
  done
  for target in dev/shm dev/pts dev sys proc; do
    mountpoint -q "$ROOT/$target" 2>/dev/null && umount -l "$ROOT/$target"
  done
  return 0
}
trap unmount_all EXIT

# in_root COMMAND...: a clean environment (nothing of the host's pip or Python settings).
in_root() {
  chroot "$ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 \
    "$@"
}

copy_source() {
  rm -rf "$ROOT/src/commune-radio"
  mkdir -p "$ROOT/src/commune-radio"
  if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
    # What git tracks or would track (uncommitted changes included; .venv and artefacts not).
    git -C "$SRC" ls-files -z --cached --others --exclude-standard \
      | (cd "$SRC" && tar --null --ignore-failed-read -T - -cf -) | tar -xf - -C "$ROOT/src/commune-radio"
  else
    tar -C "$SRC" --exclude=.venv --exclude=test-artifacts -cf - . | tar -xf - -C "$ROOT/src/commune-radio"
  fi
}

run_install() {
  in_root apt-get update -qq || return 1
  # No systemd runs in a chroot: the units are installed, not enabled or started.
  in_root bash /src/commune-radio/install/install.sh --skip-systemctl || return 1
  # The second run must change nothing (the installer is idempotent).
  in_root bash /src/commune-radio/install/install.sh --skip-systemctl > "$LOG/install-second-run.txt" 2>&1 || return 1
  grep -q "nothing to change" "$LOG/install-second-run.txt"
}

# Every station module imports under the installed venv, and the native parts load.
smoke_imports() {
  in_root /opt/commune-radio/current/bin/python - <<'PY' || return 1
import importlib, pkgutil, platform, sys
import appliance, audio, protocol
failed = []
count = 0
for package in (protocol, audio, appliance):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        count += 1
        try:
            importlib.import_module(info.name)
        except Exception as exc:  # report them all, then fail
            failed.append(f"{info.name}: {exc!r}")
import argon2, cryptography, gpiozero, vlc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
key = Ed25519PrivateKey.generate()
key.public_key().verify(key.sign(b"x"), b"x")
from appliance.panel import accounts  # the panel's own argon2id profile and error names
digest = accounts._hasher.hash("mật khẩu dài")
assert accounts._hasher.verify(digest, "mật khẩu dài") and not accounts._hasher.check_needs_rehash(digest)
instance = vlc.Instance("--no-video", "--aout=dummy")
assert instance is not None, "libVLC did not start"
print(f"machine {platform.machine()} python {sys.version.split()[0]} modules {count} "
      f"cryptography {cryptography.__version__} argon2 {argon2.__version__} vlc {vlc.libvlc_get_version().decode()}")
try:
    import lgpio
    print("lgpio", getattr(lgpio, "__version__", "present"))
except ImportError:
    print("lgpio: not installed (python3-lgpio missing from the archive?)")
if failed:
    print("\n".join(failed))
    sys.exit(1)
PY
  in_root commune-radio --config /etc/commune-radio/appliance.toml check-config >/dev/null
}

# The demo and the suite need more than the station: central (the demo runs one on loopback), and
# for the suite the test extras. They go into a venv of their own beside the installed one, which
# stays as install.sh made it. SQLAlchemy has no ARMv7 wheel: on armhf it builds without its C
# extension (pure Python, no compiler needed).
dev_venv() {
  local extras=central
  if [ "$MODE" = suite ]; then
    extras="test,central"
    # systemd's tools for tests/deploy (systemctl --root, systemd-analyze verify; nothing is started);
    # nginx for central's proxy configuration test (tests/deploy/test_nginx.py runs `nginx -t` and a real proxy).
    in_root apt-get install -y -qq --no-install-recommends systemd nginx-light >/dev/null
  fi
  # Kept between runs (built fresh with --fresh): pip then only checks what is there.
  in_root bash -c "cd /src/commune-radio && { [ -x /opt/arm-check-venv/bin/python ] \\
      || python3 -m venv --system-site-packages /opt/arm-check-venv; } \\
      && DISABLE_SQLALCHEMY_CEXT=1 /opt/arm-check-venv/bin/pip install -q -e '.[$extras]'"
}

# A short demo: the reference central on loopback, the daemon with capture output, the bulletins.
smoke_demo() {
  local rc=0
  in_root bash -c 'cd /tmp && rm -rf /tmp/arm-demo && timeout 1200 /opt/arm-check-venv/bin/commune-radio demo \
      --data /tmp/arm-demo --duration 30' > "$LOG/demo.txt" 2>&1 || rc=$?
  tail -25 "$LOG/demo.txt"
  return $rc
}

# Exclusions, each with its reason:
#  -m "not browser"      Chromium (driven by Playwright) does not run under qemu-user: its sandbox
#                        and V8's JIT need the target kernel's features; the panel's browser tests
#                        run on x86 CI, the pages they test are the same Python on ARM.
#  tests/central, -k "not postgresql"
#                        central is the server product (x86 or ARM server, PostgreSQL); the station
#                        never runs PostgreSQL. Station tests that need a central still run, against
#                        the reference central on SQLite inside the ARM root.
#  tests/audio/test_voicepacks.py
#                        importing sherpa-onnx (its ONNX runtime) kills the interpreter with SIGSEGV
#                        under qemu-user aarch64 (seen 2026-12-02, at collection); the neural voice
#                        is an optional extra and needs a real Pi (or arm64 hardware) to be checked.
# Not an exclusion but an allowance: the end-to-end tests that give the station a real-time
# lead (a slot 4 s ahead, a 34 s demo, slots 1.5 s apart around fifty kills) get that lead
# times $SLOWDOWN (tests/support/pace.py);
# what they assert (a slot starts within 1 s of its time, the demo airs its first bulletin) stays.
SLOWDOWN="${ARM_CHECK_SLOWDOWN:-4}"
SUITE_ARGS=(-v -p no:cacheprovider -m "not browser" -k "not postgresql" --ignore=tests/central
            --ignore=tests/audio/test_voicepacks.py --timeout=1800 -o "addopts=-ra" --durations=25)
suite_run() {
  local extra="" rc=0
  [ ${#PYTEST_EXTRA[@]} -gt 0 ] && extra="$(printf '%q ' "${PYTEST_EXTRA[@]}")"
  in_root bash -c "cd /src/commune-radio && COMMUNE_RADIO_TEST_SLOWDOWN=$SLOWDOWN /opt/arm-check-venv/bin/python -m pytest $(printf '%q ' "${SUITE_ARGS[@]}") \
      --junitxml=/var/tmp/arm-check-junit.xml $extra" > "$LOG/pytest.log" 2>&1 || rc=$?
  cp -f "$ROOT/var/tmp/arm-check-junit.xml" "$LOG/junit.xml" 2>/dev/null || true
  tail -40 "$LOG/pytest.log"
  return $rc
}

overall=0
phase "host-tools" host_tools || exit 1
phase "debootstrap-$ARCH" bootstrap || exit 1
mount_all
phase "trust-host-cas" trust_host_cas || exit 1
phase "copy-source" copy_source || exit 1
phase "install.sh" run_install || overall=1
tmpfs_copies
phase "smoke-imports" smoke_imports || overall=1
phase "dev-venv" dev_venv || overall=1
phase "smoke-demo" smoke_demo || overall=1
if [ "$MODE" = suite ]; then
  phase "suite" suite_run || overall=1
  grep -E '^(FAILED|ERROR) |[0-9]+ (passed|failed)' "$LOG/pytest.log" | tail -60 >> "$SUMMARY" || true
fi
# The figures on one line (docs/benchmarks.md, "ARM proof"): seconds per phase, pytest's counts.
figures="arch=$ARCH mode=$MODE"
while read -r name rc secs; do
  figures+=" ${name//[.-]/_}_s=${secs#seconds=}"
done < <(grep -E '^[a-z0-9.-]+ rc=[0-9]+ seconds=[0-9]+$' "$SUMMARY")
if [ "$MODE" = suite ] && [ -f "$LOG/pytest.log" ]; then
  counts="$(grep -E '^=*.*[0-9]+ (passed|failed)' "$LOG/pytest.log" | tail -1)"
  for what in passed failed skipped deselected error errors; do
    n="$(echo "$counts" | grep -oE "[0-9]+ $what" | grep -oE '^[0-9]+' || true)"
    [ -n "$n" ] && figures+=" $what=$n"
  done
fi
echo "RESULT $figures result=$([ $overall -eq 0 ] && echo pass || echo FAIL)" | tee -a "$SUMMARY"
exit $overall
