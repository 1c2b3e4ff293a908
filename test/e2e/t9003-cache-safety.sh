#!/bin/sh
# The owner index's cache (.git/txguard) is never a way out of the
# repository nor a way to hang a commit: a symbolic link, FIFO or other
# odd file where its directory or files go is neither followed nor
# waited on. Files a killed run left behind are removed by a later run.
# maxFileSize bounds the index's reads too, and a first build shows its
# progress on a terminal, and only there.
. "$(dirname "$0")/lib.sh"

test_create_repo repo && cd repo || exit 1

test_expect_success 'setup' '
	write_txguard_config &&
	write_job app/jobs.py &&
	write_job app/other.py &&
	git add -A &&
	git commit -q -m base &&
	git tag base
'

test_expect_success 'a symbolic link as the cache directory is never written through' '
	test_when_finished "rm -rf .git/txguard ../outside; git reset -q --hard base" &&
	rm -rf .git/txguard &&
	mkdir ../outside &&
	ln -s "$TRASH_DIRECTORY/outside" .git/txguard &&
	write_job app/jobs.py bad &&
	git add app/jobs.py &&
	test_expect_code 1 txguard check >out 2>err &&
	grep "critical TX001" out &&
	txguard index >out &&
	grep "could not be written" out &&
	test -h .git/txguard &&
	test -z "$(ls -A ../outside)"
'

test_expect_success 'a symbolic link as the chain or a layer is never followed' '
	test_when_finished "rm -rf .git/txguard ../precious ../layer-copy" &&
	rm -rf .git/txguard &&
	txguard index >out &&
	grep "0 already indexed" out &&
	chain=.git/txguard/ownerdb-v3.chain &&
	layer=.git/txguard/$(grep "[.]layer\$" "$chain") &&
	cp "$layer" ../layer-copy &&
	rm "$layer" &&
	ln -s "$TRASH_DIRECTORY/layer-copy" "$layer" &&
	txguard index >out &&
	grep "0 already indexed" out &&
	cp "$chain" ../precious &&
	cp ../precious ../precious.want &&
	rm "$chain" &&
	ln -s "$TRASH_DIRECTORY/precious" "$chain" &&
	txguard index >out &&
	grep "0 already indexed" out &&
	test_cmp ../precious.want ../precious &&
	test -f "$chain" && ! test -h "$chain" &&
	txguard index >out &&
	grep "2 already indexed" out
'

test_expect_success 'a FIFO where a cache file goes never blocks a run' '
	test_when_finished "rm -rf .git/txguard" &&
	rm -rf .git/txguard &&
	txguard index >/dev/null &&
	chain=.git/txguard/ownerdb-v3.chain &&
	layer=.git/txguard/$(grep "[.]layer\$" "$chain") &&
	rm "$layer" &&
	mkfifo "$layer" &&
	timeout 20 txguard index >out &&
	grep "0 already indexed" out &&
	rm "$chain" &&
	mkfifo "$chain" .git/txguard/ownerdb-v2 .git/txguard/ownerdb-v2.log &&
	write_job app/jobs.py bad &&
	git add app/jobs.py &&
	test_expect_code 1 timeout 20 txguard check >out 2>err &&
	grep "critical TX001" out &&
	test -f "$chain" &&
	git reset -q --hard base
'

test_expect_success 'files a killed run left are removed later, and only those' '
	test_when_finished "rm -rf .git/txguard" &&
	rm -rf .git/txguard &&
	txguard index >/dev/null &&
	d=.git/txguard &&
	for f in ownerdb-v3.tmp-layer-1-0-1 ownerdb-v3.tmp-chain-1-1-1 \
		ownerdb-v3.0123456789abcdef.layer ownerdb-v3.tmp-layer-2-0-2 \
		unrelated.tmp
	do
		echo left >"$d/$f" || return 1
	done &&
	touch -d "1 hour ago" "$d/ownerdb-v3.tmp-layer-1-0-1" \
		"$d/ownerdb-v3.tmp-chain-1-1-1" \
		"$d/ownerdb-v3.0123456789abcdef.layer" "$d/unrelated.tmp" &&
	txguard index >out &&
	grep "2 already indexed" out &&
	test ! -e "$d/ownerdb-v3.tmp-layer-1-0-1" &&
	test ! -e "$d/ownerdb-v3.tmp-chain-1-1-1" &&
	test ! -e "$d/ownerdb-v3.0123456789abcdef.layer" &&
	test -e "$d/ownerdb-v3.tmp-layer-2-0-2" &&
	test -e "$d/unrelated.tmp" &&
	test -e "$d/$(grep "[.]layer\$" "$d/ownerdb-v3.chain")"
'

test_expect_success 'maxFileSize bounds the owner index: a big file is never read' '
	test_when_finished "git reset -q --hard base; rm -rf .git/txguard" &&
	python3 -c "
import sys
with open(\"app/big.py\", \"w\") as f:
    for i in range(40000):
        f.write(\"def f%d():\\n    with open(1) as s:\\n        yield s\\n\" % i)
" &&
	git add app/big.py &&
	git commit -q --no-verify -m big &&
	rm -rf .git/txguard &&
	printf "\tmaxFileSize = 512k\n" >>.txguard &&
	txguard index >out &&
	# app/jobs.py and app/other.py are one blob: one read without big.py
	grep "owner index of the index: 3 Python files" out &&
	grep "0 already indexed, 1 read" out &&
	write_job app/jobs.py bad &&
	git add app/jobs.py &&
	test_expect_code 1 txguard check >out 2>err &&
	grep "critical TX001" out &&
	rm -rf .git/txguard &&
	git checkout -q .txguard &&
	txguard index >out &&
	grep "0 already indexed, 3 read" out
'

test_expect_success 'the first build shows progress on a terminal, and only there' '
	test_when_finished "rm -rf .git/txguard" &&
	rm -rf .git/txguard &&
	TXGUARD_PROGRESS_DELAY=0 txguard index >out 2>err &&
	test ! -s err &&
	rm -rf .git/txguard &&
	TXGUARD_PROGRESS_DELAY=0 script -qec "\"$TXGUARD\" index -q" /dev/null >tty.out &&
	grep "Indexing owners: " tty.out &&
	grep "done[.]" tty.out &&
	TXGUARD_PROGRESS_DELAY=5 script -qec "\"$TXGUARD\" index -q" /dev/null >tty.out &&
	! grep "Indexing owners" tty.out
'

test_done
