#!/bin/sh
# explain, --help and --version (SPEC §2): documentation outside a
# repository, exit codes, and no repository needed.
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

test_expect_success '--help and COMMAND --help exit 0 and name the options' '
	txguard --help >out && grep "check" out && grep "scan" out && grep "baseline" out &&
	txguard check --help >out && grep -e "--fail-on" out && grep -e "--base" out &&
	txguard scan --help >out && grep -e "--jobs" out &&
	txguard baseline --help >out && grep -e "--rev" out &&
	txguard explain --help >out
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
