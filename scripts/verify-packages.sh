#!/usr/bin/env bash
# Check what scripts/package.sh put in DIST for VERSION-RELEASE, for every arch present:
# rpm -K, rpmlint (rpm/<package>.rpmlintrc: no errors), the same file list on every arch, the
# payload binary identical to dist/bin/<arch>/ (nothing stripped it), and each binary's
# --version (aarch64 under qemu). The deeper checks (install, upgrade, flows) are in
# test/e2e/packaging.test.ts.
#
#   scripts/verify-packages.sh [DIST] VERSION-RELEASE
set -euo pipefail
if [ $# -eq 1 ]; then DIST=dist; FULLVER=$1; elif [ $# -eq 2 ]; then DIST=$1; FULLVER=$2; else
  echo "usage: $0 [DIST] VERSION-RELEASE" >&2; exit 2
fi
cd "$(dirname "$0")/.."
VERSION=${FULLVER%-*}
fail=0
bad() { echo "verify: FAIL: $*" >&2; fail=1; }

run_bin() { # arch binary args...
  local arch=$1 bin=$2; shift 2
  if [ "$arch" = aarch64 ]; then qemu-aarch64-static -L /usr/aarch64-linux-gnu "$bin" "$@"; else "$bin" "$@"; fi
}

found=0
for pkg in BootAgent:boot BasicAgent:BasicAgent aspire-server:aspire; do
  name=${pkg%%:*}; bin=${pkg##*:}
  first_list=
  for rpm in "$DIST/$name-$FULLVER".*.rpm; do
    [ -e "$rpm" ] || continue
    found=$((found + 1))
    arch=$(rpm -qp --qf '%{ARCH}' "$rpm")
    rpm -K "$rpm" | grep -q 'digests OK' || bad "$rpm: rpm -K"
    [ "$(rpm -qp --qf '%{PAYLOADCOMPRESSOR}' "$rpm")" = xz ] || bad "$rpm: payload is not xz"
    lint=$(rpmlint -r "rpm/$name.rpmlintrc" "$rpm" 2>&1 || :)
    echo "$lint" | grep -q ' 0 errors, ' || { echo "$lint" >&2; bad "$rpm: rpmlint errors"; }
    list=$(rpm -qpl "$rpm")
    if [ -z "$first_list" ]; then first_list=$list; elif [ "$list" != "$first_list" ]; then bad "$rpm: file list differs between arches"; fi
    payload=$(rpm2cpio "$rpm" | cpio -i --quiet --to-stdout "./usr/bin/$bin" | sha256sum | cut -d' ' -f1)
    [ "$payload" = "$(sha256sum "$DIST/bin/$arch/$bin" | cut -d' ' -f1)" ] || bad "$rpm: /usr/bin/$bin differs from $DIST/bin/$arch/$bin"
    got=$(run_bin "$arch" "$DIST/bin/$arch/$bin" --version 2>&1 || :)
    case "$got" in *"$VERSION"*) ;; *) bad "$DIST/bin/$arch/$bin --version printed '$got', want $VERSION" ;; esac
    echo "verify: ok $(basename "$rpm") ($(du -m "$rpm" | cut -f1) MB)"
  done
done
[ "$found" -gt 0 ] || bad "no $DIST/*-$FULLVER.*.rpm"
exit $fail
