#!/bin/sh
# install.sh: set txguard up on this machine and hook it into repositories.
#
#   ./install.sh [--prefix DIR] [--no-deps] [--no-build] [REPO...]
#   ./install.sh --uninstall REPO...
#
# 1. build and test dependencies (apt-get as root; otherwise the exact
#    command), 2. grammar + build (make: fetches tree-sitter-python with
#    npm pack and checks its pinned hash; also the pinned SARIF schema the
#    tests validate against), 3. install the binary (make install),
# 4. the pre-commit hook into each REPO, in the hooks directory git really
#    uses (core.hooksPath, linked worktrees), keeping and chaining an
#    existing pre-commit hook (moved to txguard-chained/pre-commit, so it
#    still runs under its own name). Re-running changes nothing;
#    --uninstall restores what was there before (also after the
#    pre-commit framework renamed the hook pre-commit.legacy) and removes
#    the owner index cache, <git common dir>/txguard.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
marker='# txguard-hook: pre-commit hook installed by txguard'
# Building needs the first line; `make test` the second (cmocka for the
# unit tests, the pre-commit framework and a JSON-schema validator for
# the end-to-end tests) and `make check` clang-format (the style of the
# change).
packages='build-essential pkg-config libgit2-dev libtree-sitter-dev libjansson-dev git
libcmocka-dev pre-commit python3 python3-jsonschema clang-format
python3-sqlalchemy python3-aiosqlite'

do_deps=1
do_build=1
uninstall=0
prefix=

usage() {
	cat <<USAGE
usage: ./install.sh [--prefix DIR] [--no-deps] [--no-build] [REPO...]
       ./install.sh --uninstall REPO...

Installs the build and test dependencies, fetches the grammar (and the
SARIF schema the tests use), builds and installs
txguard (PREFIX/bin/txguard; /usr/local as root, \$HOME/.local otherwise),
then installs the pre-commit hook into every REPO named.

  --prefix DIR   install under DIR
  --no-deps      do not check or install the dependencies
  --no-build     do not build or install txguard; only (un)install hooks
                 (the hook then runs \$TXGUARD, or txguard on PATH)
  --uninstall    remove the hook from each REPO, restoring an earlier one,
                 and the owner index cache (<git common dir>/txguard)
  -h, --help     show this help
USAGE
}

die() {
	echo "install.sh: $*" >&2
	exit 1
}

while [ $# -gt 0 ]; do
	case $1 in
	--prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix=$2; shift ;;
	--prefix=*) prefix=${1#--prefix=} ;;
	--no-deps) do_deps=0 ;;
	--no-build) do_build=0 ;;
	--uninstall) uninstall=1; do_deps=0; do_build=0 ;;
	-h|--help) usage; exit 0 ;;
	--) shift; break ;;
	-*) usage >&2; die "unknown option '$1'" ;;
	*) break ;;
	esac
	shift
done

if [ "$uninstall" = 1 ] && [ $# -eq 0 ]; then
	die "--uninstall needs at least one repository"
fi
if [ -z "$prefix" ]; then
	if [ "$(id -u)" = 0 ]; then prefix=/usr/local; else prefix=$HOME/.local; fi
fi

deps_missing() {
	for c in cc make git pkg-config npm pre-commit python3 git-clang-format; do
		command -v "$c" >/dev/null 2>&1 || return 0
	done
	pkg-config --exists libgit2 tree-sitter jansson cmocka 2>/dev/null || return 0
	python3 -c 'import jsonschema' 2>/dev/null || return 0
	return 1
}

install_deps() {
	deps_missing || { echo "install.sh: build and test dependencies are present"; return 0; }
	# a Node.js that ships its own npm conflicts with Debian's npm package
	command -v npm >/dev/null 2>&1 || packages="$packages npm"
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "install.sh: installing build and test dependencies with apt-get"
		DEBIAN_FRONTEND=noninteractive apt-get update -q
		# shellcheck disable=SC2086
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $packages
		deps_missing && die "dependencies still missing after apt-get"
		return 0
	fi
	echo "install.sh: build or test dependencies are missing; install them with:" >&2
	echo "  sudo apt-get install -y" $packages >&2
	echo "then run ./install.sh again (or pass --no-deps)" >&2
	exit 1
}

build_and_install() {
	echo "install.sh: building txguard"
	make -C "$here"
	# the tests validate SARIF against this pinned schema: fetch and
	# verify it now, so `make test` needs no network
	make -C "$here" sarif-schema ||
		echo "install.sh: could not fetch the SARIF schema now; 'make test' will try again"
	echo "install.sh: installing $prefix/bin/txguard"
	make -C "$here" install PREFIX="$prefix"
	TXGUARD_INSTALLED=$prefix/bin/txguard
	# the hook records the binary, but `txguard check` by hand needs PATH
	case ":$PATH:" in
	*":$prefix/bin:"*) ;;
	*) echo "install.sh: note: $prefix/bin is not on PATH; add it to run txguard by hand" ;;
	esac
}

# The hooks directory git uses for REPO (core.hooksPath, worktrees).
hooks_dir() {
	git -C "$1" rev-parse --git-dir >/dev/null 2>&1 ||
		die "'$1' is not a git repository"
	d=$(git -C "$1" rev-parse --git-path hooks) || die "cannot locate the hooks of '$1'"
	case $d in
	/*) ;;
	*) d=$(cd "$1" && pwd)/$d ;;
	esac
	printf '%s\n' "$d"
}

shquote() {
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

is_ours() {
	[ -f "$1" ] && grep -qF "$marker" "$1"
}

# Is DIR inside REPO's work tree and holding files git tracks (a shared
# core.hooksPath committed with the project)?
tracked_dir() { # repo dir
	top=$(git -C "$1" rev-parse --show-toplevel 2>/dev/null) || return 1
	case $2/ in
	"$top"/*) ;;
	*) return 1 ;;
	esac
	[ -n "$(git -C "$1" ls-files -- "$2" 2>/dev/null | head -n 1)" ]
}

install_hook() {
	dir=$(hooks_dir "$1")
	mkdir -p "$dir"
	hook=$dir/pre-commit
	tracked=
	tracked_dir "$1" "$dir" && tracked=1
	if [ -e "$hook" ] && ! is_ours "$hook"; then
		[ -e "$dir/txguard-chained/pre-commit" ] &&
			die "'$dir/txguard-chained/pre-commit' already exists; resolve it by hand first"
		mkdir -p "$dir/txguard-chained"
		# the chained hook keeps its name, for hooks that dispatch on $0
		mv "$hook" "$dir/txguard-chained/pre-commit"
		echo "install.sh: kept the existing hook as $dir/txguard-chained/pre-commit (it runs first)"
	fi
	tmp=$hook.txguard-tmp.$$
	bin=${TXGUARD_INSTALLED:-${TXGUARD:-}}
	# record the binary so GUI clients without PATH still find it
	{
		sed '/^TXGUARD_BIN=$/,$d' "$here/hook"
		printf 'TXGUARD_BIN=%s\n' "$(shquote "$bin")"
		sed '1,/^TXGUARD_BIN=$/d' "$here/hook"
	} >"$tmp"
	chmod +x "$tmp"
	if [ -f "$hook" ] && cmp -s "$tmp" "$hook"; then
		rm -f "$tmp"
		echo "install.sh: hook already installed in $dir"
		return 0
	fi
	mv "$tmp" "$hook"
	echo "install.sh: installed the pre-commit hook in $dir"
	if [ -n "$tracked" ]; then
		echo "install.sh: note: git tracks the hooks directory $dir (core.hooksPath):" \
			"what changed there shows in 'git status' and was not added;" \
			"review and commit it yourself, or undo it with ./install.sh --uninstall"
	fi
}

# Where the hook is now: pre-commit, or pre-commit.legacy after the
# pre-commit framework's `pre-commit install` moved it aside.
our_hook() { # dir
	for f in "$1/pre-commit" "$1/pre-commit.legacy"; do
		if is_ours "$f"; then
			printf '%s\n' "$f"
			return 0
		fi
	done
	return 1
}

uninstall_hook() {
	dir=$(hooks_dir "$1")
	cache=$(git -C "$1" rev-parse --git-common-dir 2>/dev/null) || cache=
	case $cache in
	''|/*) ;;
	*) cache=$(cd "$1" && pwd)/$cache ;;
	esac
	if hook=$(our_hook "$dir"); then
		rm -f "$hook"
		chained=
		for c in "$dir/txguard-chained/pre-commit" "$dir/pre-commit.txguard-chained"; do
			if [ -e "$c" ]; then
				chained=$c
				break
			fi
		done
		if [ -n "$chained" ]; then
			mv "$chained" "$hook"
			rmdir "$dir/txguard-chained" 2>/dev/null || true
			echo "install.sh: removed the txguard hook $hook, restored the earlier hook there"
		else
			echo "install.sh: removed the txguard hook $hook"
		fi
		if tracked_dir "$1" "$dir"; then
			echo "install.sh: note: git tracks the hooks directory $dir; review the change with 'git status'"
		fi
	else
		echo "install.sh: no txguard hook in $dir"
	fi
	# the owner index cache: safe to delete, rebuilt by the next run
	if [ -n "$cache" ] && [ -d "$cache/txguard" ]; then
		rm -rf "$cache/txguard"
		echo "install.sh: removed the owner index cache $cache/txguard"
	fi
}

[ "$do_deps" = 1 ] && install_deps
TXGUARD_INSTALLED=
[ "$do_build" = 1 ] && build_and_install

# The owner index is built on the first commit anyway; building it now
# keeps that commit as fast as the next ones in a large repository.
build_index() {
	b=${TXGUARD_INSTALLED:-${TXGUARD:-txguard}}
	if (cd "${1:-.}" && "$b" index -q) 2>/dev/null; then
		echo "install.sh: built the owner index of ${1:-.}"
	else
		echo "install.sh: could not build the owner index of ${1:-.} now; the first commit will"
	fi
}

for repo; do
	if [ "$uninstall" = 1 ]; then
		uninstall_hook "$repo"
	else
		install_hook "$repo"
		build_index "$repo"
	fi
done
