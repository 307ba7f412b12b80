#!/usr/bin/env bash
# Installs the Debian packages mrf needs to build, test and run. Idempotent: when every package
# is already present it only checks and returns.
set -euo pipefail

pkgs=(build-essential cmake pkg-config
      libsqlite3-dev sqlite3 libsodium-dev libcjson-dev check libsubunit-dev
      libcurl4-openssl-dev libmicrohttpd-dev libgnutls28-dev libzstd-dev
      clang-format cppcheck curl python3 faketime
      nginx-light # tests/integration/test_proxy.sh: HQ behind the documented nginx
      iptables ethtool libnetfilter-queue-dev # bench/link.sh: the satellite link between namespaces
      chromium    # the browser tests of the web pages (tests/integration/uidriver.py)
      clang libclang-rt-14-dev) # scripts/fuzz.sh: clang and its libFuzzer runtime

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
