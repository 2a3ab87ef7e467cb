#!/bin/bash
# images.sh: peak RSS and wall time of every command against the number of
# images (README, Performance, "Many images"). A release of SPEC_IMAGES
# two-platform images with an SBOM referrer each is pushed once into a CNCF
# distribution registry on 127.0.0.1 (storage on local disk); then, for each
# N, every command runs over the release of its first N images under
# /usr/bin/time, each import, push and sync into a fresh registry.
#
#   make build tools
#   internal/bench/images.sh bin/stella "100 400 1600 3000" [ADVISORIES]
#
# Prints "N command maxRSS-MiB wall-s exit" lines. Needs about 2 GB of disk
# in $WORK (default /tmp/stella-images) and the tools of `make tools`.
set -u
STELLA=$(realpath "$1"); COUNTS=$2; ADV=${3:-0}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${WORK:-/tmp/stella-images}
TOOLS=$HOME/.cache/stellaops-mirror/tools
export PATH=$TOOLS:$PATH COSIGN_PASSWORD=stellaops-dev
KEY=$ROOT/tools/cosign/cosign.dev.key PUB=$ROOT/tools/cosign/cosign.pub
MAX=0; for n in $COUNTS; do [ "$n" -gt "$MAX" ] && MAX=$n; done
mkdir -p "$WORK"
port=$((20000 + RANDOM % 20000))
# Registries are started in $(...), a subshell: each leaves its pid in
# $WORK/reg-NAME/pid for stop and for the end of the run.
trap 'for p in "$WORK"/reg-*/pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null; done' EXIT

# registry NAME: starts a registry with its storage under $WORK/NAME and
# prints its address.
registry() {
	local d=$WORK/reg-$1
	port=$((port + 1))
	rm -rf "$d"; mkdir -p "$d"
	printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:%s\n' "$d/data" "$port" > "$d/config.yml"
	"$TOOLS/registry" serve "$d/config.yml" > "$d/log" 2>&1 &
	echo $! > "$d/pid"
	for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/v2/" > /dev/null && break; sleep 0.1; done
	echo "127.0.0.1:$port"
}
stop() { kill "$(cat "$WORK/reg-$1/pid")" 2>/dev/null; rm -rf "$WORK/reg-$1"; }

SRC=$(registry src)
(cd "$ROOT" && go run ./internal/cmd/sample -registry "$SRC" -plain-http -out "$WORK/release" \
	-images "$MAX" -advisories "$ADV" -base-layer-size 1024 -layer-size 256) > /dev/null || exit 1

for N in $COUNTS; do
	W=$WORK/n$N; rm -rf "$W"; mkdir -p "$W"
	# The first N images of the release: its first N components (the
	# infrastructure image, valkey, is the fifth).
	awk -v n="$N" '/^    - name:/{c++} /^  infrastructure:/{inf=1} { if (inf || !/^    - name:|^      image:/) print; else if (c <= n-1) print }' \
		"$WORK/release/release.yaml" > "$W/release.yaml"
	run() { # run NAME COMMAND...
		local name=$1; shift
		/usr/bin/time -f '%M %e' -o "$W/time.$name" "$@" > "$W/out.$name" 2> "$W/err.$name"
		local rc=$?
		read -r rss wall < <(tail -1 "$W/time.$name")
		printf '%s %s %.1f %s %s\n' "$N" "$name" "$(echo "$rss/1024" | bc -l)" "$wall" "$rc"
		[ "$rc" = 0 ] || tail -1 "$W/err.$name" >&2
	}
	F="--plain-http -q"
	run create "$STELLA" mirror create $F --images "$W/release.yaml" --advisories "$WORK/release/advisories" --output "$W/bundle" --created 2026-11-30T00:00:00Z
	run sign "$STELLA" mirror sign $F "$W/bundle/manifest.json" --key "$KEY" --output "$W/bundle/manifest.dsse"
	run verify "$STELLA" mirror verify $F "$W/bundle" --key "$PUB"
	run verify-checksums "$STELLA" mirror verify-checksums $F "$W/bundle" --key "$PUB"
	run pack-tar "$STELLA" mirror pack $F "$W/bundle" --output "$W/b.tar"
	run pack-zst "$STELLA" mirror pack $F "$W/bundle" --output "$W/b.tar.zst"
	run inspect-tar "$STELLA" mirror inspect $F "$W/b.tar" --key "$PUB"
	run create-onepass "$STELLA" mirror create $F --images "$W/release.yaml" --advisories "$WORK/release/advisories" --output "$W/one.tar" --key "$KEY" --created 2026-11-30T00:00:00Z
	run create-delta "$STELLA" mirror create $F --images "$W/release.yaml" --advisories "$WORK/release/advisories" --output "$W/delta" --base "$W/bundle" --base-key "$PUB" --created 2026-11-30T01:00:00Z
	R=$(registry imptar)
	run import-tar "$STELLA" mirror import $F "$W/b.tar" --registry "$R" --key "$PUB" --advisories-dir "$W/adv1"
	run inventory "$STELLA" mirror inventory $F --registry "$R" --output "$W/inventory.json" --bundle-key "$PUB"
	run catalog "$STELLA" mirror catalog $F "$R/stellaops/mirror-bundle" --key "$KEY" --output "$W/catalog"
	stop imptar
	R=$(registry impzst); run import-zst "$STELLA" mirror import $F "$W/b.tar.zst" --registry "$R" --key "$PUB" --advisories-dir "$W/adv2"; stop impzst
	R=$(registry impdir); run import-dir "$STELLA" mirror import $F "$W/bundle" --registry "$R" --key "$PUB" --advisories-dir "$W/adv3"; stop impdir
	P=$(registry push)
	run push "$STELLA" mirror push $F "$W/bundle" "$P/stellaops/mirror-bundle" --key "$PUB"
	run pull "$STELLA" mirror pull $F "$P/stellaops/mirror-bundle:2025.10.0" "$W/pulled" --key "$PUB"
	S=$(registry sync)
	run sync-images "$STELLA" mirror sync $F --images "$P/stellaops/mirror-bundle:2025.10.0" "$S/stellaops/mirror-bundle" --key "$PUB"
	stop sync; stop push
	# serve: until it answers, then crane pulls the last image, then SIGINT.
	port=$((port + 1)); A=127.0.0.1:$port
	/usr/bin/time -f '%M %e' -o "$W/time.serve" "$STELLA" mirror serve $F "$W/b.tar" --key "$PUB" --addr "$A" > "$W/out.serve" 2> "$W/err.serve" &
	timer=$!
	for _ in $(seq 1200); do curl -sf "http://$A/v2/" > /dev/null && break; sleep 0.1; done
	img=$(grep 'image:' "$W/release.yaml" | tail -1 | awk '{print $2}' | sed 's|^[^/]*/||; s|@.*||')
	crane pull --insecure --format oci "$A/$img:2025.10.0" "$W/crane" > /dev/null 2> "$W/err.crane"; crc=$?
	kill -INT "$(pgrep -P $timer)" 2>/dev/null; wait $timer
	read -r rss wall < <(tail -1 "$W/time.serve")
	printf '%s %s %.1f %s %s\n' "$N" serve "$(echo "$rss/1024" | bc -l)" "$wall" "$crc"
	rm -rf "$W"
done
