#!/usr/bin/env bash
# Checks (and with --install, installs) the Debian packages the audio and speech-engine layers need.
#   scripts/system-deps.sh             check the runtime packages; exit 1 listing what is missing
#   scripts/system-deps.sh --test      also the test-only packages (ffmpeg makes WebM/Ogg Opus test input; chromium runs the browser tests)
#   scripts/system-deps.sh --install [--test]   install what is missing (as root: apt-get; otherwise
#                                      print the exact sudo line and exit 1)
set -euo pipefail

RUNTIME_PACKAGES=(libpocketsphinx3 pocketsphinx-en-us)
TEST_PACKAGES=(ffmpeg chromium)

install=0
with_test=0
for arg in "$@"; do
  case "$arg" in
    --install) install=1 ;;
    --test) with_test=1 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

wanted=("${RUNTIME_PACKAGES[@]}")
[ "$with_test" = 1 ] && wanted+=("${TEST_PACKAGES[@]}")

missing=()
for pkg in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$pkg")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "system packages present: ${wanted[*]}"
  exit 0
fi

line="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$install" = 0 ]; then
  echo "missing system packages: ${missing[*]}" >&2
  echo "install them with: sudo $line   (or: $0 --install$([ "$with_test" = 1 ] && echo ' --test'))" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "not root; run: sudo $line" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only when they are absent or the install cannot find a package.
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e '^lock$' -e '^partial$' || true)" ]; then
  apt-get update -qq
fi
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "installed: ${missing[*]}"
