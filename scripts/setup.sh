#!/usr/bin/env bash
# Prepare this machine for Aspire development: the Debian packages the tests use (rpm tooling,
# qemu for the aarch64 binaries, Chromium for the console tests, PostgreSQL for the PostgreSQL
# store: the tests start their own throwaway instances with its initdb/pg_ctl) and the npm dependencies,
# including the pinned Node 24.21.0 runtime. Safe to run again; installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(rpm rpmlint cpio binutils systemd logrotate qemu-user-static binutils-aarch64-linux-gnu libc6-arm64-cross
  libstdc++6-arm64-cross chromium openssl iproute2 procps postgresql)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The PostgreSQL tests need initdb and pg_ctl (never skipped: a missing binary fails them).
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  echo "setup: postgresql is installed but /usr/lib/postgresql/*/bin/initdb is missing" >&2
  exit 1
fi

if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # The machine's own Node may be older than the packages' "engines" ask for: everything runs on
  # the pinned Node 24 that this very install brings, so the dozens of EBADENGINE warnings are
  # noise. --loglevel=error keeps real errors (and .npmrc keeps engine-strict=false).
  npm ci --no-fund --no-audit --engine-strict=false --loglevel=error
fi
echo "setup: ready ($(node_modules/.bin/node --version) pinned runtime)"
