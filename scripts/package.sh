#!/usr/bin/env bash
# The CI packaging script (docs/design.md §3: ./contrib/package.sh BootAgent 1.2.1-1).
#
#   scripts/package.sh NAME VERSION-RELEASE
#     NAME     BootAgent | BasicAgent | Aspire | all
#     VERSION  1.2.1-1 (RPM version 1.2.1, release 1; a bare 1.2.1 means release 1)
#
# For each NAME: bundles the program (scripts/build.mjs, ASPIRE_VERSION=version), builds the Node
# single executables for every arch (scripts/sea.mjs) and the RPMs (rpm/*.spec) into dist/.
#
# Environment:
#   BOOT_SERVER_ADDR  compiled-in default server list, "svr1:port,svr2" (docs/design.md §3's -DBOOT_SERVER_ADDR)
#   ARCHES            single executables for these, space separated, default "x86_64 aarch64"
#   RPM_ARCHES        RPMs for these (a subset of ARCHES), default: ARCHES; "" = binaries only
#   DIST              output directory, default ./dist
#   RPM_PAYLOAD       rpm payload compressor, default w2.xzdio (EL8 reads xz and gzip, not zstd)
#   BUNDLE_DIR        take <entry>.cjs from here instead of bundling (made with the same version/env)
#
# Output: $DIST/bin/<arch>/<binary>, $DIST/bundle/<entry>.cjs and its <entry>.chunk-*.cjs (what the binaries embed),
# $DIST/<Name>-<version>-<release>.<arch>.rpm and
# $DIST/<Name>-<version>-<release>.buildinfo (commit, inputs, sha256 of every binary and rpm).
set -euo pipefail

usage() {
  echo "usage: $0 BootAgent|BasicAgent|Aspire|all VERSION[-RELEASE]   (e.g. $0 BootAgent 1.2.1-1)" >&2
  exit 2
}
[ $# -eq 2 ] || usage
NAME=$1
FULLVER=$2

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
NODE="$ROOT/node_modules/node/bin/node"
[ -x "$NODE" ] || { echo "package: pinned node missing: run npm ci (scripts/setup.sh)" >&2; exit 1; }

case "$FULLVER" in
  *-*) VERSION=${FULLVER%-*}; RELEASE=${FULLVER##*-} ;;
  *) VERSION=$FULLVER; RELEASE=1 ;;
esac
# RPM forbids '-' in version and release; keep both to what every rpm parses.
[[ "$VERSION" =~ ^[0-9][0-9A-Za-z.+~]*$ ]] || { echo "package: bad version '$VERSION' in '$FULLVER'" >&2; usage; }
[[ "$RELEASE" =~ ^[0-9][0-9A-Za-z.]*$ ]] || { echo "package: bad release '$RELEASE' in '$FULLVER'" >&2; usage; }
SERVER_ADDR=${BOOT_SERVER_ADDR-}
# Items "host[:port]" or "http(s)://host:port", comma separated (docs/design.md §3 writes a trailing comma).
# It is compiled in as a JSON string, so quoting is safe; whitespace is always a mistake.
if [[ "$SERVER_ADDR" =~ [[:space:]\"\'] ]]; then
  echo "package: BOOT_SERVER_ADDR '$SERVER_ADDR' has whitespace or quotes; want 'svr1:8080,svr2'" >&2
  exit 2
fi

ARCHES=${ARCHES:-x86_64 aarch64}
RPM_ARCHES=${RPM_ARCHES-$ARCHES}
for a in $RPM_ARCHES; do
  case " $ARCHES " in *" $a "*) ;; *) echo "package: RPM_ARCHES '$a' is not in ARCHES '$ARCHES'" >&2; exit 2 ;; esac
done
DIST=${DIST:-$ROOT/dist}
mkdir -p "$DIST"
DIST=$(cd "$DIST" && pwd)
PAYLOAD=${RPM_PAYLOAD:-w2.xzdio}

for tool in rpmbuild tar strip; do
  command -v "$tool" >/dev/null || { echo "package: $tool not found (scripts/setup.sh installs it)" >&2; exit 1; }
done
case " $ARCHES " in *" aarch64 "*)
  command -v aarch64-linux-gnu-strip >/dev/null || { echo "package: aarch64-linux-gnu-strip not found (apt binutils-aarch64-linux-gnu)" >&2; exit 1; } ;;
esac

# One private work dir per run (concurrent runs never share an rpmbuild tree).
mkdir -p "$ROOT/.rpmbuild"
WORK=$(mktemp -d "$ROOT/.rpmbuild/run.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# program name -> bundle entry (scripts/build.mjs), binaries, spec, packaging dir
describe() {
  case "$1" in
    BootAgent) ENTRY=boot; BINS="boot"; SPEC=bootagent.spec; PKGDIR=bootagent; RPMNAME=BootAgent ;;
    BasicAgent) ENTRY=basic-agent; BINS="BasicAgent"; SPEC=basicagent.spec; PKGDIR=basicagent; RPMNAME=BasicAgent ;;
    Aspire) ENTRY=aspire; BINS="aspire"; SPEC=aspire-server.spec; PKGDIR=aspire-server; RPMNAME=aspire-server ;;
    *) echo "package: unknown NAME '$1'" >&2; usage ;;
  esac
}

package_one() {
  local name=$1 t0=$SECONDS
  describe "$name"
  local w="$WORK/$name"
  mkdir -p "$w/bundle" "$w/sea"

  if [ -n "${BUNDLE_DIR-}" ]; then
    # Prebuilt bundle (the caller made it with the same ASPIRE_VERSION/BOOT_SERVER_ADDR).
    echo "package: $name $VERSION-$RELEASE: bundle from $BUNDLE_DIR/$ENTRY.cjs"
    cp "$BUNDLE_DIR/$ENTRY.cjs" "$w/bundle/$ENTRY.cjs"
    # Its chunks (scripts/build.mjs), which sea.mjs embeds as assets.
    local chunk
    for chunk in "$BUNDLE_DIR/$ENTRY".chunk-*.cjs; do
      [ -e "$chunk" ] && cp "$chunk" "$w/bundle/"
    done
  else
    echo "package: $name $VERSION-$RELEASE: bundle ($ENTRY, BOOT_SERVER_ADDR='$SERVER_ADDR')"
    ASPIRE_VERSION="$VERSION" BOOT_SERVER_ADDR="$SERVER_ADDR" ASPIRE_BUILD_DIR="$w/bundle" \
      "$NODE" scripts/build.mjs "$ENTRY" >/dev/null
  fi
  [ -s "$w/bundle/$ENTRY.cjs" ] || { echo "package: bundle $ENTRY.cjs was not built (is its main.ts missing?)" >&2; exit 1; }

  # shellcheck disable=SC2086
  local arch_csv
  arch_csv=$(echo $ARCHES | tr ' ' ',')
  echo "package: $name: single executables for $arch_csv"
  "$NODE" scripts/sea.mjs --bundle "$w/bundle/$ENTRY.cjs" --name "$BINS" --out "$w/sea" --arch "$arch_csv" >/dev/null

  # Keep the exact bundle the binaries embed (rebuilding the SEA from it must give the same bytes).
  mkdir -p "$DIST/bundle"
  local f
  for f in "$w/bundle/$ENTRY.cjs" "$w/bundle/$ENTRY".chunk-*.cjs; do
    [ -e "$f" ] || continue
    cp "$f" "$DIST/bundle/$(basename "$f").tmp"
    mv -f "$DIST/bundle/$(basename "$f").tmp" "$DIST/bundle/$(basename "$f")"
  done
  local arch
  for arch in $ARCHES; do
    mkdir -p "$DIST/bin/$arch"
    install -m 0755 "$w/sea/$arch/$BINS" "$DIST/bin/$arch/$BINS.tmp"
    mv -f "$DIST/bin/$arch/$BINS.tmp" "$DIST/bin/$arch/$BINS"
    [ "$name" = BasicAgent ] && ln -sfn BasicAgent "$DIST/bin/$arch/BasicAgentCtl"
  done
  for arch in $RPM_ARCHES; do
    local top="$w/rpm-$arch"
    mkdir -p "$top"/{SOURCES,BUILD,RPMS,SRPMS,BUILDROOT,SPECS}
    cp rpm/aspire-common.inc rpm/LICENSE rpm/"$PKGDIR"/* "$top/SOURCES/"
    cp "$ROOT/.cache/node-runtime/24.21.0/$arch/LICENSE" "$top/SOURCES/LICENSE.node"
    cp "$w/sea/$arch/$BINS" "$top/SOURCES/$BINS.$arch"
    echo "package: $name: rpm for $arch"
    rpmbuild -bb --quiet --target "$arch" \
      --define "_topdir $top" \
      --define "aspire_version $VERSION" \
      --define "aspire_release $RELEASE" \
      --define "aspire_payload $PAYLOAD" \
      --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
      "rpm/$SPEC" >"$top/rpmbuild.log" 2>&1 || { cat "$top/rpmbuild.log" >&2; exit 1; }
    # The rpm's arch tag must be the target (an x86_64 binary in an aarch64 rpm would be a disaster).
    local rpmfile
    rpmfile=$(ls "$top/RPMS/")
    case "$rpmfile" in *".$arch.rpm") ;; *) echo "package: rpmbuild made $rpmfile for $arch" >&2; exit 1 ;; esac
    mv -f "$top/RPMS/$rpmfile" "$DIST/$rpmfile"
  done

  # What went in and what came out: lets CI and the e2e test reuse a dist/ from the same commit.
  local info="$DIST/$RPMNAME-$VERSION-$RELEASE.buildinfo"
  {
    echo "name=$name"
    echo "version=$VERSION"
    echo "release=$RELEASE"
    echo "commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)"
    echo "dirty=$(git status --porcelain -- packages scripts rpm package-lock.json 2>/dev/null | grep -q . && echo yes || echo no)"
    echo "boot_server_addr=$SERVER_ADDR"
    echo "node=$("$NODE" --version)"
    echo "payload=$PAYLOAD"
    echo "sha256.bundle.$ENTRY=$(sha256sum "$DIST/bundle/$ENTRY.cjs" | cut -d' ' -f1)"
    for f in "$DIST/bundle/$ENTRY".chunk-*.cjs; do
      [ -e "$f" ] || continue
      echo "sha256.bundle.$(basename "$f" .cjs)=$(sha256sum "$f" | cut -d' ' -f1)"
    done
    for arch in $ARCHES; do
      echo "sha256.bin.$arch.$BINS=$(sha256sum "$DIST/bin/$arch/$BINS" | cut -d' ' -f1)"
    done
    for arch in $RPM_ARCHES; do
      echo "sha256.rpm.$arch=$(sha256sum "$DIST/$RPMNAME-$VERSION-$RELEASE.$arch.rpm" | cut -d' ' -f1)"
    done
  } >"$info.tmp"
  mv -f "$info.tmp" "$info"
  echo "package: $name $VERSION-$RELEASE done in $((SECONDS - t0)) s"
}

if [ "$NAME" = all ]; then
  for n in BootAgent BasicAgent Aspire; do package_one "$n"; done
else
  package_one "$NAME"
fi
ls -l "$DIST"/*-"$VERSION"-"$RELEASE".*.rpm 2>/dev/null || :
