#!/usr/bin/env bash
# Verifies a bundle directory: its DSSE signature and every digest it names,
# then SHA256SUMS and its signature.
#
# Usage: ./verify.sh <bundle-dir> <public-key.pem>
set -euo pipefail

DIR="${1:?Bundle directory required}"
KEY="${2:?Public key required (do not trust the key shipped inside the bundle)}"
STELLA="${STELLA:-stella}"

if ! command -v "$STELLA" >/dev/null 2>&1; then
  echo "verify.sh: $STELLA: not found: install the stella binary carried beside the bundle (docs/INSTALL.md), or set STELLA to its path; without it, docs/VERIFY.md (Without stella) checks the bundle with sha256sum and cosign or openssl" >&2
  exit 1
fi

if [ -f "$DIR" ]; then
  # verify-checksums reads SHA256SUMS beside the files it lists: a directory.
  # The suggestion is a command to paste: each path quoted for the shell.
  printf 'verify.sh: %s is a file, not a bundle directory: extract it (docs/VERIFY.md), or check the archive itself with: %q mirror verify %q --key %q\n' "$DIR" "$STELLA" "$DIR" "$KEY" >&2
  exit 1
fi

if [ "$KEY" -ef "${DIR%/}/public-key.pem" ]; then
  echo "verify.sh: $KEY is the bundle's own public-key.pem, which whoever could alter the bundle could alter too: give the trusted key received out of band" >&2
  exit 1
fi

"$STELLA" mirror verify "${DIR%/}/manifest.dsse" --key "$KEY"
"$STELLA" mirror verify-checksums "$DIR" --key "$KEY"
echo "==> $DIR verifies"
