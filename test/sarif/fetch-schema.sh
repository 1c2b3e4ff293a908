#!/bin/sh
# Fetch the pinned SARIF 2.1.0 JSON schema (test/sarif/schema.lock) with
# `npm pack`, verify the tarball and the schema file by sha256, cache it
# as DEST_DIR/sarif-schema-2.1.0.json and print that path.
#   usage: fetch-schema.sh [--cached] [DEST_DIR]   (default: build/sarif)
# The build fetches it (`make test` and ./install.sh); the tests call this
# with --cached, which never fetches: it prints the verified copy or fails
# saying how to get one.
# SARIF_SCHEMA=FILE uses an existing copy instead (checked all the same).
set -eu

cached=0
if [ "${1:-}" = --cached ]; then
	cached=1
	shift
fi

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/schema.lock"

dest=${1:-$top/build/sarif}
out=$dest/sarif-schema-2.1.0.json

check() { # file
	[ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$SCHEMA_SHA256" ]
}

if [ -n "${SARIF_SCHEMA:-}" ]; then
	check "$SARIF_SCHEMA" || {
		echo "fetch-schema: $SARIF_SCHEMA does not have sha256 $SCHEMA_SHA256" >&2
		exit 1
	}
	echo "$SARIF_SCHEMA"
	exit 0
fi
if check "$out"; then
	echo "$out"
	exit 0
fi
if [ "$cached" = 1 ]; then
	echo "fetch-schema: no verified SARIF schema in $dest; fetch it with" \
		"'make sarif-schema' (./install.sh and 'make test' do)" >&2
	exit 1
fi
command -v npm >/dev/null 2>&1 || {
	echo "fetch-schema: npm is needed to fetch $SCHEMA_PKG@$SCHEMA_PKG_VERSION" >&2
	exit 1
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# npm's own error (network, proxy, TLS) goes to stderr; its notices do not
if ! (cd "$tmp" && npm pack --loglevel=error "$SCHEMA_PKG@$SCHEMA_PKG_VERSION" >/dev/null); then
	echo "fetch-schema: 'npm pack $SCHEMA_PKG@$SCHEMA_PKG_VERSION' failed; npm must reach its registry" >&2
	exit 1
fi
set -- "$tmp"/*.tgz
[ -f "$1" ] || { echo "fetch-schema: npm pack produced no tarball" >&2; exit 1; }
got=$(sha256sum "$1" | cut -d' ' -f1)
if [ "$got" != "$SCHEMA_TGZ_SHA256" ]; then
	echo "fetch-schema: integrity check failed for $SCHEMA_PKG@$SCHEMA_PKG_VERSION" >&2
	echo "fetch-schema:   expected sha256 $SCHEMA_TGZ_SHA256" >&2
	echo "fetch-schema:   got      sha256 $got" >&2
	exit 1
fi
tar -xzf "$1" -C "$tmp" "$SCHEMA_PKG_FILE"
check "$tmp/$SCHEMA_PKG_FILE" || {
	echo "fetch-schema: $SCHEMA_PKG_FILE does not have sha256 $SCHEMA_SHA256" >&2
	exit 1
}
mkdir -p "$dest"
cp "$tmp/$SCHEMA_PKG_FILE" "$out.tmp.$$"
mv "$out.tmp.$$" "$out"
echo "$out"
