#!/usr/bin/env bash
# Verifies a bundle directory: its DSSE signature and every digest it names,
# then SHA256SUMS and its signature.
#
# Usage: ./verify.sh <bundle-dir> <public-key.pem>
set -euo pipefail

DIR="${1:?Bundle directory required}"
KEY="${2:?Public key required (do not trust the key shipped inside the bundle)}"
STELLA="${STELLA:-stella}"

"$STELLA" mirror verify "$DIR/manifest.dsse" --key "$KEY"
"$STELLA" mirror verify-checksums "$DIR" --key "$KEY"
echo "==> $DIR verifies"
