#!/usr/bin/env bash
# Applies an incremental (delta) bundle: import checks that every blob the
# delta does not carry is already in the registry, and that its generation is
# newer than the one the registry holds, before it writes anything.
#
# Usage: ./update.sh <delta.tar[.gz|.zst]> [registry:port] [import flags...]
#
# It runs load.sh beside it, with the same arguments and environment
# (STELLA, STELLA_KEY, STELLA_IMPORT_FLAGS).
set -euo pipefail

BUNDLE="${1:?Delta bundle path required}"
REGISTRY="${2:-localhost:5000}"
exec bash "$(dirname "$0")/load.sh" "$BUNDLE" "$REGISTRY" "${@:3}"
