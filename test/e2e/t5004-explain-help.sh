#!/bin/sh
# explain, --help and --version: documentation outside a repository,
# exit codes, and no repository needed.
. "$(dirname "$0")/lib.sh"

test_expect_success 'explain lists every rule, marking the ones not checked yet' '
	txguard explain >out &&
	grep "^TX001  double-transaction" out &&
	! grep "^TX001.*not checked yet" out &&
	test "$(grep -c "^TX00[1-4] " out)" = 4
'

test_expect_success 'explain TX001: what, why, wrong and right code, fix, suppression' '
	txguard explain TX001 >out &&
	test "$(grep -c "^TX001 double-transaction (critical)" out)" = 1 &&
	grep -i "idle in transaction" out &&
	grep -i "wrong" out && grep -i "right" out &&
	grep "txguard: ignore\[TX001\]" out
'

test_expect_success 'explain is case-insensitive; an unknown rule is exit 2' '
	txguard explain tx001 >out &&
	grep "^TX001" out &&
	test_expect_code 2 txguard explain TX999 >out 2>err &&
	grep "unknown rule" err
'

test_expect_success 'explain takes a rule name as well as an id' '
	txguard explain double-transaction >out &&
	test "$(grep -c "^TX001 double-transaction (critical)" out)" = 1 &&
	txguard explain Session-Escape TX002 >out &&
	grep "^TX004 session-escape" out &&
	grep "^TX002 unmanaged-session" out
'

test_expect_success 'an error by hand or in CI names no hook to skip' '
	test_expect_code 2 txguard explain TX999 >out 2>err &&
	grep "unknown rule" err &&
	! grep -e "--no-verify" -e "SKIP=" err &&
	test_expect_code 2 env CI=true txguard explain TX999 >out 2>err &&
	! grep -e "--no-verify" -e "SKIP=" err
'

test_expect_success 'inside a hook the error says how to skip that hook' '
	test_expect_code 2 env TXGUARD_HOOK=git txguard explain TX999 >out 2>err &&
	grep "hint: .git commit --no-verify. skips the hook once" err &&
	test_expect_code 2 env PRE_COMMIT=1 txguard explain TX999 >out 2>err &&
	grep "hint: .SKIP=txguard git commit. skips the hook once" err &&
	! grep -e "--no-verify" err &&
	test_expect_code 2 env TXGUARD_HOOK=pre-commit txguard explain TX999 >out 2>err &&
	grep "SKIP=txguard" err
'

test_expect_success '--help and COMMAND --help exit 0 and name the options' '
	txguard --help >out && grep "check" out && grep "scan" out && grep "baseline" out &&
	txguard check --help >out && grep -e "--fail-on" out && grep -e "--base" out &&
	grep -e "-h, --help" out &&
	txguard scan --help >out && grep -e "--jobs" out && grep -e "-h, --help" out &&
	txguard baseline --help >out && grep -e "--rev" out &&
	txguard index -h >out && grep -e "--quiet" out &&
	txguard explain --help >out && grep "double-transaction" out
'

test_expect_success 'a command taking no arguments refuses one, naming its help' '
	test_expect_code 2 txguard baseline stray >out 2>err &&
	grep "unexpected argument .stray." err &&
	grep "see .txguard baseline --help." err &&
	test_expect_code 2 txguard index stray >out 2>err &&
	grep "see .txguard index --help." err
'

test_expect_success '--version prints the version' '
	txguard --version >out &&
	grep "^txguard [0-9]" out
'

test_expect_success 'no command, or an unknown one, is exit 2' '
	test_expect_code 2 txguard >out 2>err &&
	test_expect_code 2 txguard frobnicate >out 2>err &&
	grep "not a txguard command" err
'

test_done
