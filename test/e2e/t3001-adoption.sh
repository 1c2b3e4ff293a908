#!/bin/sh
# Adopting txguard on a codebase full of debt: baseline the
# existing findings, then only what a change adds blocks.
. "$(dirname "$0")/lib.sh"

# debt_module FILE N: N functions, each with one TX001 (line 4 + 5*i).
debt_module() {
	{
		echo "from app.db import get_background_session"
		echo
		i=0
		while [ "$i" -lt "$2" ]; do
			cat <<PY
async def debt_$i(x):
    async with get_background_session() as session:
        await session.execute(x)
        await session.commit()

PY
			i=$((i + 1))
		done
	} | write_file "$1"
}

test_create_repo repo && cd repo || exit 1

test_expect_success 'setup: 24 existing violations in 3 files, committed' '
	write_txguard_config &&
	debt_module app/a.py 8 &&
	debt_module app/b.py 8 &&
	debt_module app/c.py 8 &&
	git add -A &&
	git commit -q -m debt &&
	test_expect_code 1 txguard scan >out &&
	grep "24 new findings" out
'

test_expect_success 'txguard baseline records them; scan then passes' '
	txguard baseline >out &&
	grep "wrote 24 entries" out &&
	test "$(grep -vc "^#" .txguard-baseline)" = 24 &&
	test_expect_code 0 txguard scan >out &&
	grep "24 baselined" out &&
	echo ".txguard-baseline merge=union" >.gitattributes &&
	install_hook . &&
	git add .txguard-baseline .gitattributes &&
	git commit -q -m "adopt txguard" &&
	git tag adopted
'

test_expect_success 'scan gives the same report on one thread and on several' '
	txguard scan --no-baseline -j1 --format json >one.json || test $? = 1 &&
	txguard scan --no-baseline -j4 --format json >four.json || test $? = 1 &&
	txguard scan --no-baseline --jobs=2 --format json >two.json || test $? = 1 &&
	test_cmp one.json four.json && test_cmp one.json two.json &&
	test_expect_code 2 txguard scan -j0 >out 2>err && grep "jobs" err &&
	rm one.json two.json four.json
'

test_expect_success 'the baseline is sorted and has no line numbers' '
	grep -v "^#" .txguard-baseline >entries &&
	sort entries >sorted &&
	test_cmp sorted entries &&
	! grep -E ":[0-9]+" entries &&
	rm entries sorted
'

test_expect_success 'moving functions within a file passes' '
	test_when_finished "git reset -q --hard adopted" &&
	{ sed -n "1,2p" app/a.py; sed -n "23,42p" app/a.py; sed -n "3,22p" app/a.py; } >moved &&
	mv moved app/a.py &&
	git add app/a.py &&
	git commit -q -m moved
'

test_expect_success 'reformatting around the debt passes' '
	test_when_finished "git reset -q --hard adopted" &&
	sed -e "s/await session.execute(x)/await session.execute(  x  )/" \
		-e "s/^async def debt_3(x):/async def debt_3(\n    x,\n):/" app/b.py >re &&
	mv re app/b.py &&
	git add app/b.py &&
	git commit -q -m reformat
'

test_expect_success 'adding unrelated functions passes' '
	test_when_finished "git reset -q --hard adopted" &&
	printf "\ndef helper(a):\n    return a + 1\n" >>app/c.py &&
	git add app/c.py &&
	git commit -q -m helper
'

test_expect_success 'renaming a file and moving it between directories passes' '
	test_when_finished "git reset -q --hard adopted" &&
	mkdir -p lib &&
	git mv app/a.py lib/alpha.py &&
	git mv app/b.py app/beta.py &&
	git commit -q -m rename
'

test_expect_success 'one new violation blocks, and only it is reported' '
	test_when_finished "git reset -q --hard adopted" &&
	cat >>app/c.py <<-\PY &&

	async def fresh(x):
	    async with get_background_session() as session:
	        await session.commit()
	PY
	git add app/c.py &&
	line=$(grep -n "await session.commit()" app/c.py | tail -n 1 | cut -d: -f1) &&
	test_must_fail git commit -q -m fresh >out 2>&1 &&
	test "$(grep -c "critical TX001" out)" = 1 &&
	grep "^app/c.py:$line:15: critical TX001" out &&
	grep "1 new finding" out
'

test_expect_success 'a second identical violation in a baselined unit blocks (count)' '
	test_when_finished "git reset -q --hard adopted" &&
	sed "6p" app/a.py >dup &&
	mv dup app/a.py &&
	git add app/a.py &&
	test_must_fail git commit -q -m dup >out 2>&1 &&
	test "$(grep -c "critical TX001" out)" = 1 &&
	grep "^app/a.py:7:15: critical TX001" out
'

test_expect_success 'fixing one violation does not let a different one in the same unit through' '
	test_when_finished "git reset -q --hard adopted" &&
	sed "6s/commit()/rollback()/" app/a.py >swap &&
	mv swap app/a.py &&
	git add app/a.py &&
	test_must_fail git commit -q -m swap >out 2>&1 &&
	test "$(grep -c "critical TX001" out)" = 1 &&
	grep "^app/a.py:6:15: critical TX001 session.rollback()" out
'

test_expect_success 'fixing one and adding the same call under another owner in the same unit blocks' '
	test_when_finished "git reset -q --hard adopted" &&
	sed "6s/commit()/flush()/" app/a.py >swap &&
	{ sed -n "1,6p" swap &&
	  printf "        async with session.begin():\n            await session.commit()\n" &&
	  sed -n "7,\$p" swap; } >app/a.py &&
	rm swap &&
	git add app/a.py &&
	test_must_fail git commit -q -m swap-owner >out 2>&1 &&
	test "$(grep -c "critical TX001" out)" = 1 &&
	grep "^app/a.py:8:19: critical TX001 session.commit() inside .async with session.begin()" out &&
	grep "prunable" out
'

test_expect_success 'a fixed violation makes its entry prunable, not an error' '
	test_when_finished "git reset -q --hard adopted" &&
	sed "6s/commit/flush/" app/a.py >fixed &&
	mv fixed app/a.py &&
	git add app/a.py &&
	git commit -q -m fix >out 2>&1 &&
	grep "matches nothing (prunable)" out
'

test_expect_success 'inline suppressions: counted, and one that suppresses nothing is a notice' '
	test_when_finished "git reset -q --hard adopted" &&
	cat >>app/c.py <<-\PY &&

	async def quiet(x):
	    async with get_background_session() as session:
	        await session.commit()  # txguard: ignore[TX001]

	def useless(x):
	    return x  # txguard: ignore[TX001]
	PY
	git add app/c.py &&
	git commit -q -m quiet >out 2>&1 &&
	grep "1 suppressed" out &&
	grep "notice: app/c.py:.*suppresses nothing" out
'

test_expect_success '--no-baseline and --baseline FILE override the committed one' '
	test_expect_code 1 txguard scan --no-baseline >out &&
	grep "24 new findings" out &&
	: >empty-baseline &&
	test_expect_code 1 txguard scan --baseline empty-baseline >out &&
	grep "24 new findings" out &&
	rm empty-baseline
'

test_expect_success 'a malformed baseline is an error naming file and line' '
	test_when_finished "git reset -q --hard adopted" &&
	printf "# ok\nnot-a-fingerprint TX001\n" >.txguard-baseline &&
	git add .txguard-baseline &&
	echo "# touch" >>app/c.py &&
	git add app/c.py &&
	test_expect_code 2 txguard check >out 2>err &&
	grep "\.txguard-baseline:2:" err
'

test_expect_success 'baseline keeps its comments on rewrite' '
	test_when_finished "git reset -q --hard adopted" &&
	{ echo "# owned by the platform team"; cat .txguard-baseline; } >b &&
	mv b .txguard-baseline &&
	txguard baseline >out &&
	grep "^# owned by the platform team" .txguard-baseline
'

test_expect_success 'two branches adding baseline entries merge without conflict' '
	git checkout -q -b one adopted &&
	debt_module app/d.py 2 &&
	git add app/d.py &&
	git commit -q --no-verify -m d &&
	txguard baseline >out &&
	git add .txguard-baseline &&
	git commit -q -m "baseline d" &&
	git checkout -q -b two adopted &&
	debt_module app/e.py 3 &&
	git add app/e.py &&
	git commit -q --no-verify -m e &&
	txguard baseline >out &&
	git add .txguard-baseline &&
	git commit -q -m "baseline e" &&
	git merge -q --no-edit one &&
	! grep "^[<>=]\{7\}" .txguard-baseline &&
	test "$(grep -vc "^#" .txguard-baseline)" = 29 &&
	test_expect_code 0 txguard scan >out &&
	grep "29 baselined" out &&
	cp .txguard-baseline merged &&
	txguard baseline >out &&
	sort merged | grep -v "^#" >a && grep -v "^#" .txguard-baseline >b &&
	test_cmp a b &&
	rm merged a b
'

test_done
