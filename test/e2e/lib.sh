# test/e2e/lib.sh: the harness every end-to-end script sources, after
# git's t/test-lib.sh and jq's tests/setup.
#
#	. "$(dirname "$0")/lib.sh"
#	test_expect_success 'title' '
#		cmd1 &&
#		cmd2
#	'
#	test_done
#
# Sourcing it creates a fresh trash directory (mktemp -d; kept and printed
# when a test fails, removed when all pass), makes it HOME and the current
# directory, isolates git from the caller (no system config, a global
# config inside the trash directory, fixed dates, LC_ALL=C, no inherited
# GIT_* variables) and exports:
#	TXGUARD   absolute path of the binary under test (from the
#	          environment, as `make test` sets it; a valgrind wrapper in
#	          TXGUARD_VALGRIND=1 mode); also callable as `txguard`
#	TOP       the txguard checkout
#	FIXTURES  $TOP/test/fixtures
#	TRASH_DIRECTORY
#
# The trash directory is not a repository; create one with
# test_create_repo. Options of the sourcing script: -v (show the output of
# every test), -i (stop at the first failure).
#
# Functions: test_expect_success, test_when_finished, test_must_fail,
# test_expect_code, test_cmp, test_done, test_create_repo, test_tick,
# write_file, install_hook, write_txguard_config, write_job, bad_py.

# Where this file is: the directory of the script that sources it.
TOP=$(cd "$(dirname "$0")/../.." && pwd) || exit 1
FIXTURES=$TOP/test/fixtures
test_name=$(basename "$0" .sh)

test_verbose=
test_immediate=
for arg
do
	case $arg in
	-v|--verbose) test_verbose=t ;;
	-i|--immediate) test_immediate=t ;;
	esac
done

if [ -z "${TXGUARD:-}" ]; then
	echo "Bail out! TXGUARD is not set: run 'make test', or" \
		"TXGUARD=/path/to/txguard sh $0"
	exit 1
fi
case $TXGUARD in
/*) ;;
*) TXGUARD=$(pwd)/$TXGUARD ;;
esac
if [ ! -x "$TXGUARD" ]; then
	echo "Bail out! TXGUARD=$TXGUARD is not an executable file"
	exit 1
fi
TXGUARD_REAL=$TXGUARD

# Drop every GIT_* variable inherited from the caller (a hook, a worktree,
# a developer's shell): tests set what they need themselves.
for v in $(env | sed -n 's/^\(GIT_[A-Za-z0-9_]*\)=.*/\1/p')
do
	unset "$v"
done
unset TXGUARD_CONFIG NO_COLOR CDPATH XDG_CONFIG_HOME EDITOR VISUAL PAGER

TRASH_DIRECTORY=$(mktemp -d "${TMPDIR:-/tmp}/txguard-$test_name.XXXXXX") || {
	echo "Bail out! cannot create a trash directory"
	exit 1
}
HOME=$TRASH_DIRECTORY
LC_ALL=C
LANG=C
TZ=UTC
GIT_CONFIG_NOSYSTEM=1
GIT_CONFIG_GLOBAL=$HOME/.gitconfig
# Stop discovery at the trash directory: "outside a repository" stays so.
GIT_CEILING_DIRECTORIES=$(dirname "$TRASH_DIRECTORY")
GIT_AUTHOR_DATE='1700000000 +0000'
GIT_COMMITTER_DATE='1700000000 +0000'
GIT_EDITOR=:
GIT_PAGER=cat
GIT_MERGE_AUTOEDIT=no
export HOME LC_ALL LANG TZ GIT_CONFIG_NOSYSTEM GIT_CONFIG_GLOBAL \
	GIT_CEILING_DIRECTORIES GIT_AUTHOR_DATE GIT_COMMITTER_DATE GIT_EDITOR \
	GIT_PAGER GIT_MERGE_AUTOEDIT TOP FIXTURES TRASH_DIRECTORY TG_TEST

cat >"$GIT_CONFIG_GLOBAL" <<EOF
[init]
	defaultBranch = main
[user]
	name = Txguard Tester
	email = tester@example.com
[commit]
	gpgsign = false
[advice]
	detachedHead = false
[core]
	autocrlf = false
EOF

# `txguard` on PATH is the binary under test, or a valgrind wrapper that
# logs into .valgrind/; a non-empty log fails the test that produced it.
mkdir "$TRASH_DIRECTORY/.bin" "$TRASH_DIRECTORY/.valgrind" || exit 1
if [ -n "${TXGUARD_VALGRIND:-}" ] && [ "$TXGUARD_VALGRIND" != 0 ]; then
	cat >"$TRASH_DIRECTORY/.bin/txguard" <<EOF
#!/bin/sh
exec valgrind --error-exitcode=99 --leak-check=full -q --suppressions='$TOP/test/valgrind.supp' \\
	--log-file='$TRASH_DIRECTORY/.valgrind/%p.log' '$TXGUARD_REAL' "\$@"
EOF
	chmod +x "$TRASH_DIRECTORY/.bin/txguard"
	TXGUARD=$TRASH_DIRECTORY/.bin/txguard
else
	TXGUARD_VALGRIND=
	ln -s "$TXGUARD_REAL" "$TRASH_DIRECTORY/.bin/txguard"
fi
PATH=$TRASH_DIRECTORY/.bin:$PATH
export TXGUARD TXGUARD_VALGRIND PATH

cd "$TRASH_DIRECTORY" || exit 1

test_count=0
test_failures=0
test_cleanup=:
test_out=$TRASH_DIRECTORY/.test-output

# Keep the trash directory whenever the script ends without test_done
# passing everything (a failure, `exit` from a test, a typo at top level).
test_trash_kept=t
test_at_exit() {
	if [ -n "$test_trash_kept" ]; then
		echo "# trash directory kept: $TRASH_DIRECTORY"
	else
		cd / && rm -rf "$TRASH_DIRECTORY"
	fi
}
trap 'test_at_exit' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

test_indent_() {
	sed 's/^/# /'
}

# Move valgrind reports into the test's output; false when there were any.
test_valgrind_check_() {
	test_vg_ok=0
	for f in "$TRASH_DIRECTORY"/.valgrind/*.log
	do
		[ -f "$f" ] || continue
		if [ -s "$f" ]; then
			echo "valgrind reported errors:"
			cat "$f"
			test_vg_ok=1
		fi
		rm -f "$f"
	done
	return $test_vg_ok
}

# test_expect_success 'title' 'commands'
#	Evaluate the commands in this shell (no subshell: variables set
#	persist; the working directory is restored afterwards). Chain them
#	with && as git's tests do: the status is the status of the chain.
#	Prints "ok N - title" or "not ok N - title" followed by the commands
#	and their output, indented with '#'.
test_expect_success() {
	if [ $# -ne 2 ]; then
		echo "Bail out! test_expect_success needs 'title' 'commands'"
		exit 1
	fi
	test_count=$((test_count + 1))
	test_cleanup=:
	test_here_=$(pwd)
	eval "$2" >"$test_out" 2>&1 </dev/null
	test_ret_=$?
	test_cleanup_ret_=0
	eval "$test_cleanup" >>"$test_out" 2>&1 </dev/null
	if [ "$test_cleanup_ret_" -ne 0 ]; then
		echo "test_when_finished: cleanup failed" >>"$test_out"
		test_ret_=1
	fi
	test_cleanup=:
	test_valgrind_check_ >>"$test_out" 2>&1 || test_ret_=1
	cd "$test_here_" || exit 1
	if [ "$test_ret_" -eq 0 ]; then
		echo "ok $test_count - $1"
		[ -n "$test_verbose" ] && test_indent_ <"$test_out"
	else
		test_failures=$((test_failures + 1))
		echo "not ok $test_count - $1"
		printf '%s\n' "$2" | sed -e '/^[ 	]*$/d' -e 's/^/#	/'
		echo "# output (exit status $test_ret_):"
		test_indent_ <"$test_out"
		if [ -n "$test_immediate" ]; then
			echo "# stopping at the first failure (-i)"
			exit 1
		fi
	fi
	return 0
}

# test_when_finished 'commands'
#	Run the commands after the current test, pass or fail; the last
#	registered runs first. A failing cleanup fails the test.
test_when_finished() {
	test_cleanup="{ $*
} && (exit \"\$test_cleanup_ret_\"); test_cleanup_ret_=\$?; $test_cleanup"
}

# test_must_fail cmd [args...]
#	Succeeds only when cmd exits with 1..125: a success, a crash (a
#	signal, status > 128), "not found" (127) or "not executable" (126)
#	fail, saying which. In valgrind mode status 99 is valgrind's.
test_must_fail() {
	"$@"
	test_mf_ret_=$?
	if [ $test_mf_ret_ -eq 0 ]; then
		echo >&2 "test_must_fail: command succeeded: $*"
		return 1
	elif [ $test_mf_ret_ -gt 128 ]; then
		echo >&2 "test_must_fail: died of signal $((test_mf_ret_ - 128)): $*"
		return 1
	elif [ $test_mf_ret_ -eq 127 ]; then
		echo >&2 "test_must_fail: command not found: $*"
		return 1
	elif [ $test_mf_ret_ -ge 126 ]; then
		echo >&2 "test_must_fail: exit status $test_mf_ret_: $*"
		return 1
	elif [ $test_mf_ret_ -eq 99 ] && [ -n "$TXGUARD_VALGRIND" ]; then
		echo >&2 "test_must_fail: valgrind reported errors: $*"
		return 1
	fi
	return 0
}

# test_expect_code N cmd [args...]
#	Succeeds only when cmd exits with exactly N.
test_expect_code() {
	test_ec_want_=$1
	shift
	"$@"
	test_ec_ret_=$?
	if [ "$test_ec_ret_" -eq "$test_ec_want_" ]; then
		return 0
	fi
	echo >&2 "test_expect_code: exit status $test_ec_ret_, wanted $test_ec_want_: $*"
	return 1
}

# test_cmp expected actual
test_cmp() {
	diff -u "$@"
}

# test_create_repo DIR: an empty repository (branch main) that ignores
#	the scratch files tests write (out, err, expect, actual).
test_create_repo() {
	git init -q "$1" &&
	printf 'out\nerr\nexpect\nactual\n' >>"$1/.git/info/exclude"
}

# test_tick: advance the fixed commit dates by one minute.
test_tick_time_=1700000000
test_tick() {
	test_tick_time_=$((test_tick_time_ + 60))
	GIT_AUTHOR_DATE="$test_tick_time_ +0000"
	GIT_COMMITTER_DATE="$test_tick_time_ +0000"
	export GIT_AUTHOR_DATE GIT_COMMITTER_DATE
}

# write_file PATH <<-\EOF ... EOF: stdin to PATH, creating directories.
write_file() {
	case $1 in
	*/*) mkdir -p "${1%/*}" || return 1 ;;
	esac
	cat >"$1"
}

# install_hook REPO
#	Install the pre-commit hook into REPO with the real installer:
#	install.sh --no-deps --no-build REPO, with TXGUARD exported so the
#	hook runs the binary under test.
#	Fallback, only while install.sh does not exist yet: write a minimal
#	hook that execs "$TXGUARD" check.
install_hook() {
	if [ -f "$TOP/install.sh" ]; then
		sh "$TOP/install.sh" --no-deps --no-build "$1"
		return
	fi
	install_hook_dir_=$(git -C "$1" rev-parse --git-path hooks) &&
	case $install_hook_dir_ in
	/*) ;;
	*) install_hook_dir_=$1/$install_hook_dir_ ;;
	esac &&
	mkdir -p "$install_hook_dir_" &&
	printf '#!/bin/sh\nexec "%s" check\n' "$TXGUARD" \
		>"$install_hook_dir_/pre-commit" &&
	chmod +x "$install_hook_dir_/pre-commit"
}

# write_txguard_config [OWNER...]: a .txguard in the current directory
#	naming the configured owners (default get_background_session).
write_txguard_config() {
	[ $# -gt 0 ] || set -- get_background_session
	printf '[txguard]\n' >.txguard &&
	for o
	do
		printf '\towner = %s\n' "$o" >>.txguard || return 1
	done
}

# write_job FILE [clean|bad]: a module whose unit mark_running (lines 6-9)
#	uses the configured owner get_background_session. "bad" puts a TX001
#	on line 9, column 15 (`await session.commit()`); "clean" (default)
#	has `await session.flush()` there. unrelated_helper (lines 12-25) is
#	long enough that an edit of its last lines makes a separate hunk.
write_job() {
	case ${2:-clean} in
	bad) write_job_call_=commit ;;
	*) write_job_call_=flush ;;
	esac
	write_file "$1" <<EOF
from sqlalchemy import text

from app.db import get_background_session


async def mark_running(job_id):
    async with get_background_session() as session:
        await session.execute(text("update jobs set status = 1"))
        await session.$write_job_call_()


def unrelated_helper(x):
    a = x + 1
    b = a * 2
    c = b - 3
    d = c * 4
    e = d + 5
    f = e - 6
    g = f * 7
    h = g + 8
    i = h - 9
    j = i * 10
    k = j + 11
    return k
EOF
}

# expect_marks FILE...: "FILE:LINE RULE" for every `# expect: RULE[, RULE]`
# mark in the files (a CR before the newline ignored), sorted.
expect_marks() {
	for f in "$@"; do
		grep -n '# expect:' "$f" | while IFS= read -r l; do
			rules=$(printf "%s" "${l##*# expect:}" | tr -d "\r")
			for r in $(echo "${rules%%#*}" | tr ',' ' '); do
				echo "$f:${l%%:*} $r"
			done
		done
	done | LC_ALL=C sort
}

# bad_py FILE [OWNER]: a module whose function f has one TX001 on line 4,
#	column 15, inside `async with OWNER() as session:` (default
#	get_background_session, imported from app.db).
bad_py() {
	write_file "$1" <<EOF
from app.db import ${2:-get_background_session}
async def f(x):
    async with ${2:-get_background_session}() as session:
        await session.commit()
EOF
}
# test_done: the TAP plan and summary; exit 1 if any test failed.
test_done() {
	echo "1..$test_count"
	if [ "$test_failures" -eq 0 ]; then
		echo "# passed all $test_count test(s)"
		test_trash_kept=
		exit 0
	fi
	echo "# failed $test_failures among $test_count test(s)"
	exit 1
}
