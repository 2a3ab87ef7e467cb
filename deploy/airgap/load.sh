#!/usr/bin/env bash
# StellaOps air-gap bundle loader (plan §4): verifies a bundle and loads its
# images, the bundle itself and its advisories into the air-gap registry, in
# one streaming pass with no extraction.
#
# Usage: ./load.sh <bundle.tar[.gz|.zst]|bundle-dir> [registry:port] [import flags...]
#
# Arguments after the registry go to `stella mirror import` as they are
# (--plain-http, --advisories-dir "DIR WITH SPACES", …).
#
# Environment:
#   STELLA           the stella binary (default: stella on PATH)
#   STELLA_KEY       the trusted public key to verify with (required unless
#                    --key or --trust-root is among the import flags). The bundle's own
#                    public-key.pem is never trusted: whoever could change the
#                    bundle could change it too.
#   STELLA_IMPORT_FLAGS  extra flags for `stella mirror import`, such as
#                    --plain-http or --advisories-dir DIR (without it the
#                    advisories stay only in the registry, with a warning);
#                    split at spaces, so a value holding one goes after the
#                    registry instead
set -euo pipefail

BUNDLE="${1:?Bundle path required}"
REGISTRY="${2:-localhost:5000}"
shift "$(( $# < 2 ? $# : 2 ))"
if [[ "$REGISTRY" == -* ]]; then
  echo "load.sh: $REGISTRY: give the registry first, then the import flags: load.sh BUNDLE REGISTRY [flags...]" >&2
  exit 1
fi
STELLA="${STELLA:-stella}"
KEY="${STELLA_KEY:-}"

if ! command -v "$STELLA" >/dev/null 2>&1; then
  echo "load.sh: $STELLA: not found: install the stella binary carried beside the bundle (docs/INSTALL.md, 1. Install the binary), or set STELLA to its path" >&2
  exit 1
fi

# The bundle's own key is refused in STELLA_KEY and among the import flags
# (--key FILE, --key=FILE): import trusts every --key given.
if [ -d "$BUNDLE" ]; then
  # shellcheck disable=SC2086
  for arg in "$KEY" ${STELLA_IMPORT_FLAGS:-} "$@"; do
    arg="${arg#--*=}"
    if [ -n "$arg" ] && [ "$arg" -ef "${BUNDLE%/}/public-key.pem" ]; then
      echo "load.sh: $arg is the bundle's own public-key.pem, which whoever could alter the bundle could alter too: set STELLA_KEY to the trusted key received out of band" >&2
      exit 1
    fi
  done
fi

# A trusted key or root among the import flags does for STELLA_KEY.
trusted=
# shellcheck disable=SC2086
for arg in ${STELLA_IMPORT_FLAGS:-} "$@"; do
  case "$arg" in
    --key|--key=?*|--trust-root|--trust-root=?*) trusted=1 ;;
  esac
done

key_flags=()
if [ -n "$KEY" ]; then
  key_flags=(--key "$KEY")
elif [ -z "$trusted" ]; then
  echo "load.sh: set STELLA_KEY to the trusted public key (or give --key PUB or --trust-root ROOT.pem among the import flags)" >&2
  exit 1
fi

echo "==> Importing $BUNDLE into $REGISTRY (verify first, then stream)..." >&2
# shellcheck disable=SC2086
"$STELLA" mirror import "$BUNDLE" --registry "$REGISTRY" ${key_flags[@]+"${key_flags[@]}"} ${STELLA_IMPORT_FLAGS:-} "$@"
echo "==> Done! Registry: $REGISTRY" >&2
