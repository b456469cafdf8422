#!/usr/bin/env bash
# Provision, once, what `contact asterisk up` runs and the Asterisk tests use:
#   - on the host: sipp (sip-tester), espeak-ng and sox (prompt generation), debootstrap;
#   - Asterisk 22: a native `asterisk` on PATH if there is one, otherwise a Debian sid root
#     filesystem in $CACHE_DIR/asterisk-sid (Debian 12 packages no Asterisk);
#   - the language-menu and hold prompts, spoken by espeak-ng, in $CACHE_DIR/sounds
#     (recorded ones in asterisk-config/sounds/ with the same names take precedence at `up`).
# Idempotent: a stamp file naming the package set marks a finished rootfs, so reruns take
# well under a second; an interrupted run starts over from scratch.
set -euo pipefail

CACHE_DIR="${CONTACT_ASTERISK_CACHE_DIR:-${HOME}/.cache/contact}"
ROOT="$CACHE_DIR/asterisk-sid"
SOUNDS="$CACHE_DIR/sounds"
MIRROR="${CONTACT_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PACKAGES="asterisk,asterisk-modules,asterisk-core-sounds-en,asterisk-moh-opsound-wav"
STAMP="$ROOT/.contact-provisioned"
STAMP_TEXT="sid $PACKAGES"

log() { echo "asterisk-rootfs: $*" >&2; }

# One provisioning at a time per cache (tests, benchmarks and `contact asterisk up` may start
# together): the others wait here, then find the rootfs ready.
mkdir -p "$CACHE_DIR"
exec 9>"$CACHE_DIR/.provision.lock"
flock 9

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    log "missing Debian packages: $* (install them with apt-get as root)"; exit 1
  fi
  log "installing $* from Debian's packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

native=""
if [ "${CONTACT_ASTERISK_LAUNCHER:-auto}" != chroot ] && [ "${CONTACT_ASTERISK_LAUNCHER:-auto}" != loader ]; then
  native="$(command -v asterisk || true)"
fi

need=()
command -v sipp >/dev/null || need+=(sip-tester)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v sox >/dev/null || need+=(sox)
if [ -z "$native" ] && ! command -v debootstrap >/dev/null; then need+=(debootstrap); fi
if ((${#need[@]})); then apt_install "${need[@]}"; fi

if [ -n "$native" ]; then
  log "using the native Asterisk at $native"
elif [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$STAMP_TEXT" ]; then
  log "rootfs ready in $ROOT"
else
  [ "$(id -u)" = 0 ] || { log "building the rootfs needs root (debootstrap)"; exit 1; }
  log "building a Debian sid rootfs with Asterisk in $ROOT (about a minute, ~500 MB)"
  partial="$ROOT.partial"
  rm -rf "$partial" "$ROOT"
  mkdir -p "$CACHE_DIR"
  debootstrap --variant=minbase --include="$PACKAGES" sid "$partial" "$MIRROR" \
    >"$CACHE_DIR/debootstrap.log" 2>&1 || {
    log "debootstrap failed, see $CACHE_DIR/debootstrap.log"; tail -n 20 "$CACHE_DIR/debootstrap.log" >&2
    exit 1
  }
  # minbase ships no /etc/hosts: without one Asterisk resolves localhost over DNS
  cp /etc/hosts "$partial/etc/hosts"
  # Asterisk runs as root in a private chroot; the package's own files are all it needs
  rm -rf "$partial/var/cache/apt/archives/"*.deb
  mv "$partial" "$ROOT"
  echo "$STAMP_TEXT" >"$STAMP"
  log "rootfs ready: $("$ROOT/usr/sbin/asterisk" -V 2>/dev/null || chroot "$ROOT" asterisk -V)"
fi

# Prompts: 8 kHz mono 16-bit WAV, what format_wav plays without transcoding.
# Language-neutral files sit in sounds/contact/, per-language ones in sounds/<lang>/contact/
# so that Playback(contact/hold) follows CHANNEL(language).
# The language menu is what every 102 caller hears before anything else: two short sentences
# at a brisk rate, espeak-ng's leading and trailing silence cut to 0.15 s (both prompts together
# ~3.6 s; the long greeting of earlier versions took 9.4 s). A prompt is spoken again whenever
# its voice, rate or text here changes (its .spec file records them).
speak() { # voice, words per minute, text, output path
  local out="$4" spec="$1 $2 $3"
  if [ -s "$out" ] && [ "$(cat "$out.spec" 2>/dev/null)" = "$spec" ]; then return 0; fi
  mkdir -p "$(dirname "$out")"
  local tmp="$out.$$" # no audio suffix: `contact asterisk up` never links a half-made file
  espeak-ng -v "$1" -s "$2" -w "$tmp.raw" "$3"
  sox -q -t wav "$tmp.raw" -t wav -r 8000 -c 1 -b 16 -e signed-integer "$tmp.part" \
    silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse pad 0 0.15
  rm -f "$tmp.raw"
  mv "$tmp.part" "$out"
  printf '%s\n' "$spec" >"$out.spec"
}
speak ru 175 "Для русского языка нажмите один." "$SOUNDS/contact/menu-ru.wav"
speak kk 175 "Қазақ тілі үшін екіні басыңыз." "$SOUNDS/contact/menu-kk.wav"
speak ru 150 "Пожалуйста, оставайтесь на линии. Оператор скоро ответит." \
  "$SOUNDS/ru/contact/hold.wav"
speak kk 150 "Желіден шықпаңыз. Оператор жақында жауап береді." \
  "$SOUNDS/kk/contact/hold.wav"
log "prompts ready in $SOUNDS"
