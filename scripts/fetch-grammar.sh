#!/bin/sh
# Fetch a pinned tree-sitter grammar with `npm pack`, verify the tarball
# against the hash pinned in its lock file (default grammar.lock, the
# Python grammar; grammar-toml.lock names the TOML one), and unpack it
# into DEST. The grammars' sources are never committed: the build calls
# this script.
#   usage: fetch-grammar.sh DEST [LOCK]
set -eu

here=$(cd "$(dirname "$0")" && pwd)
dest=${1:?usage: fetch-grammar.sh DEST [LOCK]}
lock=${2:-$here/../grammar.lock}
case $lock in
*/*) ;;
*) lock=./$lock ;;
esac
. "$lock"

if [ -f "$dest/src/parser.c" ] && [ -f "$dest/.verified" ] &&
   [ "$(cat "$dest/.verified")" = "$GRAMMAR_SHA512" ]; then
	exit 0
fi
command -v npm >/dev/null 2>&1 || {
	echo "fetch-grammar: npm is needed to fetch $GRAMMAR_NAME@$GRAMMAR_VERSION" >&2
	echo "fetch-grammar: install npm, or set TREE_SITTER_PYTHON_DIR to an unpacked copy" >&2
	exit 1
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# npm's own error (network, proxy, TLS) goes to stderr; its notices do not
if ! (cd "$tmp" && npm pack --loglevel=error "$GRAMMAR_NAME@$GRAMMAR_VERSION" >/dev/null); then
	echo "fetch-grammar: 'npm pack $GRAMMAR_NAME@$GRAMMAR_VERSION' failed; npm must reach its registry" >&2
	exit 1
fi
# a scoped package (@scope/name) packs as scope-name-VERSION.tgz
set -- "$tmp"/*.tgz
tgz=$1
[ -f "$tgz" ] || { echo "fetch-grammar: npm pack produced no tarball" >&2; exit 1; }
got=$(sha512sum "$tgz" | cut -d' ' -f1)
if [ "$got" != "$GRAMMAR_SHA512" ]; then
	echo "fetch-grammar: integrity check failed for $GRAMMAR_NAME@$GRAMMAR_VERSION" >&2
	echo "fetch-grammar:   expected sha512 $GRAMMAR_SHA512" >&2
	echo "fetch-grammar:   got      sha512 $got" >&2
	exit 1
fi
rm -rf "$dest"
mkdir -p "$dest"
tar -xzf "$tgz" -C "$dest" --strip-components=1 package/src package/LICENSE
echo "$GRAMMAR_SHA512" >"$dest/.verified"
