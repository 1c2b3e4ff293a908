#!/bin/sh
# Fetch the pinned tree-sitter-python grammar with `npm pack`, verify the
# tarball against the hash pinned in grammar.lock, and unpack it into DEST.
# The grammar's sources are never committed: the build calls this script.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../grammar.lock"

dest=${1:?usage: fetch-grammar.sh DEST}
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
(cd "$tmp" && npm pack --silent "$GRAMMAR_NAME@$GRAMMAR_VERSION" >/dev/null)
tgz="$tmp/$GRAMMAR_NAME-$GRAMMAR_VERSION.tgz"
[ -f "$tgz" ] || { echo "fetch-grammar: npm pack produced no $tgz" >&2; exit 1; }
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
