#!/usr/bin/env bash
# Make a free-threaded (no-GIL, PEP 703) CPython 3.13 available and print the
# path of its interpreter as the LAST line of stdout. Everything else goes to
# stderr.
#
#   PY="$(scripts/freethreaded-python.sh | tail -n1)"
#
# Prefix: ${FT_PREFIX:-/opt/cpython-ft}. If "$PREFIX/bin/python3.13t" exists and
# really runs without the GIL, this returns within seconds. Otherwise CPython
# 3.13 is built from the Debian source package (Debian 13 "trixie", fetched
# with `apt-get source` from the Debian mirror this machine already uses),
# configured with --disable-gil, and installed into the prefix. The install is
# staged next to the prefix and moved into place with a single rename only
# after the build, the install and the checks succeeded, so an interrupted
# run never leaves a prefix that looks valid.
#
# Needs root (apt-get) when it has to build. Takes ~6 minutes on 2 cores.
#
# Environment:
#   FT_PREFIX         install prefix (default /opt/cpython-ft)
#   FT_DEBIAN_MIRROR  Debian mirror URL for the deb-src entry (default: the one
#                     the machine's apt sources already use)
#   FT_JOBS           make -j (default: nproc)
set -euo pipefail

PREFIX="${FT_PREFIX:-/opt/cpython-ft}"
PREFIX="${PREFIX%/}"
PY="$PREFIX/bin/python3.13t"

log() { printf '[freethreaded-python] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# True if $1 is a working free-threaded interpreter.
is_valid() {
    [ -x "$1" ] && "$1" -c 'import sys; assert not sys._is_gil_enabled()' >/dev/null 2>&1
}

# ---- fast path -------------------------------------------------------------
if is_valid "$PY"; then
    echo "$PY"
    exit 0
fi

# ---- slow path: build ------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "building needs root (apt-get); run as root or point FT_PREFIX at a valid install"

PARENT="$(dirname "$PREFIX")"
mkdir -p "$PARENT"

# Serialise concurrent builds of the same prefix (cheap; the fast path above
# does not take the lock).
LOCK="$PREFIX.lock"
exec 9>"$LOCK"
if ! flock -n 9; then
    log "another build of $PREFIX is running; waiting for it"
    flock 9
fi
if is_valid "$PY"; then
    echo "$PY"
    exit 0
fi

START=$(date +%s)
WORK="$(mktemp -d "${TMPDIR:-/tmp}/freethreaded-python.XXXXXX")"
STAGE="$(mktemp -d "$PREFIX.stage.XXXXXX")"   # same filesystem as $PREFIX
LOG="$WORK/build.log"
: >"$LOG"

cleanup() {
    local rc=$?
    if [ "$rc" -ne 0 ]; then
        log "FAILED (exit $rc). Last lines of $LOG:"
        tail -n 60 "$LOG" >&2 || true
        local keep="${TMPDIR:-/tmp}/freethreaded-python-build.log"
        cp -f "$LOG" "$keep" 2>/dev/null && log "full log kept at $keep"
    fi
    rm -rf "$WORK" "$STAGE"
    rm -rf /tmp/ftvenv-check
}
trap cleanup EXIT

# Run a command with its output going to the build log only.
quiet() {
    printf '\n===== %s\n' "$*" >>"$LOG"
    "$@" >>"$LOG" 2>&1
}

export DEBIAN_FRONTEND=noninteractive
# Wait for (rather than fail on) another apt/dpkg run holding the lock.
APT=(apt-get -o DPkg::Lock::Timeout=600)

# -- 1. the Debian mirror this machine already uses --------------------------
find_mirror() {
    local f uri
    shopt -s nullglob
    # deb822 *.sources files: a "URIs:" line of a stanza that has type deb or
    # deb-src and points at the main archive (not -security, not a third party).
    for f in /etc/apt/sources.list.d/*.sources; do
        awk '
            BEGIN { RS=""; FS="\n" }
            {
                uris=""; debian=0; enabled=1
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^URIs:/)   { uris = $i; sub(/^URIs:[ \t]*/, "", uris) }
                    if ($i ~ /^Suites:/ && $i ~ /(bookworm|trixie|sid|stable|testing|unstable)/) debian = 1
                    if ($i ~ /^Enabled:[ \t]*no/) enabled = 0
                }
                if (enabled && debian && uris != "") {
                    n = split(uris, u, /[ \t]+/)
                    for (j = 1; j <= n; j++) if (u[j] ~ /\/debian\/?$/) print u[j]
                }
            }' "$f"
    done
    # one-line *.list files and /etc/apt/sources.list
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk '
            $1 ~ /^deb(-src)?$/ {
                for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { print $i; break }
            }' "$f" | grep -E '/debian/?$' || true
    done
    shopt -u nullglob
}

MIRROR="${FT_DEBIAN_MIRROR:-}"
if [ -z "$MIRROR" ]; then
    MIRROR="$(find_mirror | awk 'NR == 1' || true)"
fi
[ -n "$MIRROR" ] || die "could not find the Debian mirror in /etc/apt/sources.list{,.d}; set FT_DEBIAN_MIRROR"
MIRROR="${MIRROR%/}"
log "Debian mirror: $MIRROR"

# -- 2. deb-src entry for trixie (source packages only; no binary upgrades) --
SRC_FILE=/etc/apt/sources.list.d/trixie-src.sources
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
WANT="Types: deb-src
URIs: $MIRROR
Suites: trixie
Components: main"
[ -f "$KEYRING" ] && WANT="$WANT
Signed-By: $KEYRING"
if [ ! -f "$SRC_FILE" ] || [ "$(cat "$SRC_FILE")" != "$WANT" ]; then
    log "writing $SRC_FILE"
    printf '%s\n' "$WANT" >"$SRC_FILE"
fi

log "apt-get update"
quiet "${APT[@]}" update

# -- 3. build dependencies ---------------------------------------------------
BUILD_DEPS=(
    build-essential pkg-config xz-utils ca-certificates
    libssl-dev libffi-dev zlib1g-dev libbz2-dev liblzma-dev libsqlite3-dev
    libreadline-dev libncurses-dev uuid-dev libgdbm-dev libgdbm-compat-dev
    libexpat1-dev libmpdec-dev
)
# Keep only the packages this release knows (e.g. libmpdec-dev is optional).
AVAILABLE=()
for p in "${BUILD_DEPS[@]}"; do
    if apt-cache show "$p" >/dev/null 2>&1; then AVAILABLE+=("$p"); else log "skipping unavailable package $p"; fi
done
log "apt-get install build dependencies"
quiet "${APT[@]}" install -y --no-install-recommends "${AVAILABLE[@]}"

# -- 4. source -----------------------------------------------------------------
log "apt-get source --download-only python3.13 (trixie)"
cd "$WORK"
quiet "${APT[@]}" source --download-only python3.13
shopt -s nullglob
TARBALLS=(python3.13_*.orig.tar.*)
shopt -u nullglob
[ "${#TARBALLS[@]}" -ge 1 ] || die "no python3.13_*.orig.tar.* was downloaded"
ORIG="${TARBALLS[0]}"   # extra orig-COMPONENT tarballs, if any, do not match the glob
log "unpacking $ORIG"
mkdir src
tar xf "$ORIG" -C src --strip-components=1
cd src
[ -x configure ] || die "no configure script in $ORIG"

# -- 5. build ------------------------------------------------------------------
JOBS="${FT_JOBS:-$(nproc 2>/dev/null || echo 2)}"
log "configure --disable-gil --prefix=$PREFIX (log: $LOG)"
quiet ./configure --disable-gil --prefix="$PREFIX" --with-ensurepip=install
log "make -j$JOBS (a few minutes)"
quiet make -j"$JOBS"
./python -c 'import sys; assert not sys._is_gil_enabled()' \
    || die "the built interpreter has the GIL enabled"
for m in ssl ctypes sqlite3 zlib bz2 lzma readline _uuid; do
    ./python -c "import $m" >/dev/null 2>&1 || log "warning: module $m did not build"
done
./python -c 'import ssl, ctypes, zlib' || die "ssl/ctypes/zlib missing from the build"

# -- 6. staged install, verify, then move into place --------------------------
log "make install into staging area $STAGE"
quiet make install DESTDIR="$STAGE"
STAGED="$STAGE$PREFIX"
[ -x "$STAGED/bin/python3.13t" ] || die "staged install has no bin/python3.13t"

# The interpreter finds its stdlib relative to its own location, so the staged
# copy can be checked before it goes live.
"$STAGED/bin/python3.13t" -c 'import sys, ssl, ctypes, ensurepip; assert sys._is_gil_enabled() is False' \
    || die "staged interpreter failed its check"

if [ -e "$PREFIX" ]; then
    OLD="$(mktemp -d "$PREFIX.old.XXXXXX")"
    log "moving invalid existing $PREFIX aside"
    mv "$PREFIX" "$OLD/"
    rm -rf "$OLD"
fi
mv "$STAGED" "$PREFIX"

# -- 7. final checks -----------------------------------------------------------
"$PY" -c 'import sys; assert sys._is_gil_enabled() is False, "GIL is enabled"' \
    || { rm -rf "$PREFIX"; die "installed interpreter has the GIL enabled"; }
rm -rf /tmp/ftvenv-check
if ! { "$PY" -m venv /tmp/ftvenv-check && /tmp/ftvenv-check/bin/pip --version; } >>"$LOG" 2>&1; then
    rm -rf "$PREFIX"
    die "venv/pip check failed"
fi
rm -rf /tmp/ftvenv-check

log "built $("$PY" -VV | head -n1) in $(( $(date +%s) - START ))s"
echo "$PY"
