#!/usr/bin/env bash
# tools/deps.sh — installs every Debian package trunx needs to build, run and test.
# A no-op (no apt-get call at all) when everything is already present.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  clang libclang-rt-14-dev clang-tidy cppcheck
  libsofia-sip-ua-dev libsrtp2-dev libopus-dev libspandsp-dev
  libpq-dev libhiredis-dev libevent-dev libssl-dev libjansson-dev
  libsystemd-dev libcmocka-dev openssl liburing-dev libbpf-dev
  sip-tester sipvicious nmap sipsak tcpdump tshark
  espeak-ng flite sox libsox-fmt-base
  libpocketsphinx-dev libsphinxbase-dev pocketsphinx-en-us
  postgresql redis-server kamailio baresip-core linphone-cli twinkle-console rtpengine-daemon
  python3 procps iproute2 psmisc
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "deps: installing ${#missing[@]} packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "deps: done"
