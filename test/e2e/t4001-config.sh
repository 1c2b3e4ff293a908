#!/bin/sh
# Configuration: every key of .txguard, valid and invalid, rule
# severities, file classes, and git config layered on top.
. "$(dirname "$0")/lib.sh"

test_create_repo repo && cd repo || exit 1

test_expect_success 'setup' '
	write_txguard_config &&
	write_job app/jobs.py &&
	git add -A &&
	git commit -q -m base &&
	git tag base
'

test_expect_success 'owner (undotted) matches any spelling; dotted only itself' '
	test_when_finished "git reset -q --hard base" &&
	printf "[txguard]\n\towner = get_session\n\towner = db.open_tx\n" >.txguard &&
	bad_py app/a.py helpers.get_session &&
	bad_py app/b.py db.open_tx &&
	bad_py app/c.py other.open_tx &&
	git add app &&
	test_expect_code 1 txguard check >out &&
	grep "^app/a.py:4:" out && grep "^app/b.py:4:" out &&
	! grep "^app/c.py" out
'

test_expect_success 'failOn: never passes, critical blocks TX001; --fail-on overrides it' '
	test_when_finished "git reset -q --hard base" &&
	bad_py app/a.py &&
	git add app/a.py &&
	printf "[txguard]\n\towner = get_background_session\n\tfailOn = never\n" >.txguard &&
	test_expect_code 0 txguard check >out && grep TX001 out &&
	test_expect_code 1 txguard check --fail-on high >out &&
	printf "[txguard]\n\towner = get_background_session\n\tfailOn = critical\n" >.txguard &&
	test_expect_code 1 txguard check >out
'

test_expect_success 'include and exclude globs' '
	test_when_finished "git reset -q --hard base" &&
	bad_py app/a.py && bad_py migrations/m1.py && bad_py app/script.pyw &&
	git add -A &&
	printf "[txguard]\n\towner = get_background_session\n\tinclude = **/*.py\n\tinclude = **/*.pyw\n\texclude = migrations/**\n" >.txguard &&
	test_expect_code 1 txguard check >out &&
	grep "^app/a.py:4" out && grep "^app/script.pyw:4" out &&
	! grep "migrations" out
'

test_expect_success 'maxFileSize skips a larger file with a notice' '
	test_when_finished "git reset -q --hard base" &&
	bad_py app/a.py && git add app/a.py &&
	printf "[txguard]\n\towner = get_background_session\n\tmaxFileSize = 10\n" >.txguard &&
	test_expect_code 0 txguard check >out &&
	grep "notice: app/a.py: skipped, larger than maxFileSize" out
'

test_expect_success 'baseline path is configurable' '
	test_when_finished "git reset -q --hard base; rm -f debt.txt" &&
	bad_py app/a.py && git add app/a.py && git commit -q --no-verify -m debt &&
	printf "[txguard]\n\towner = get_background_session\n\tbaseline = debt.txt\n" >.txguard &&
	txguard baseline >out && test -s debt.txt && grep "debt.txt" out &&
	test_expect_code 0 txguard scan >out && grep "1 baselined" out
'

test_expect_success 'rule severity: lowered below fail-on does not block; off drops it' '
	test_when_finished "git reset -q --hard base" &&
	bad_py app/a.py && git add app/a.py &&
	printf "[txguard]\n\towner = get_background_session\n[txguard \"rule.TX001\"]\n\tseverity = medium\n" >.txguard &&
	test_expect_code 0 txguard check >out && grep "medium TX001" out &&
	printf "[txguard]\n\towner = get_background_session\n[txguard \"rule.TX001\"]\n\tseverity = off\n" >.txguard &&
	test_expect_code 0 txguard check >out && ! grep TX001 out
'

test_expect_success 'the built-in test class reports but does not block' '
	test_when_finished "git reset -q --hard base" &&
	bad_py tests/test_jobs.py && bad_py app/conftest.py &&
	git add -A &&
	test_expect_code 0 txguard check >out &&
	test "$(grep -c "critical TX001" out)" = 2 &&
	bad_py app/a.py && git add app/a.py &&
	test_expect_code 1 txguard check >out
'

test_expect_success 'a configured class with its own paths and failOn' '
	test_when_finished "git reset -q --hard base" &&
	bad_py scripts/once.py && bad_py tests/test_x.py && git add -A &&
	printf "[txguard]\n\towner = get_background_session\n[txguard \"class.scripts\"]\n\tpath = scripts/**\n\tfailOn = never\n[txguard \"class.test\"]\n\tpath = nothing/**\n\tfailOn = never\n" >.txguard &&
	test_expect_code 1 txguard check >out &&
	grep "^tests/test_x.py" out && grep "^scripts/once.py" out &&
	printf "[txguard]\n\towner = get_background_session\n[txguard \"class.scripts\"]\n\tpath = scripts/**\n\tfailOn = never\n" >.txguard &&
	test_expect_code 0 txguard check >out
'

test_expect_success 'git config layers override .txguard; owners accumulate' '
	test_when_finished "git reset -q --hard base; git config --unset-all txguard.failOn; git config --global --unset-all txguard.owner; true" &&
	bad_py app/a.py && bad_py app/b.py extra_owner && git add app &&
	git config txguard.failOn never &&
	test_expect_code 0 txguard check >out &&
	git config --unset txguard.failOn &&
	git config --global txguard.owner extra_owner &&
	test_expect_code 1 txguard check >out &&
	grep "^app/a.py:4" out && grep "^app/b.py:4" out
'

# invalid values and keys: exit 2, the message names file and line
for bad in \
	"failOn = sometimes" "maxFileSize = lots" "maxFileSize =" "owner =" \
	"include =" "color = red" "noSuchKey = 1"
do
	test_expect_success "invalid: $bad" "
		test_when_finished 'git checkout -q -- .txguard' &&
		printf '[txguard]\n\towner = x\n\t$bad\n' >.txguard &&
		test_expect_code 2 env TXGUARD_HOOK=git txguard check >out 2>err &&
		grep '\.txguard:3' err &&
		grep -e '--no-verify' err
	"
done

for bad in '[txguard "rule.TX999"]\n\tseverity = high' \
	'[txguard "rule.TX001"]\n\tseverity = never' \
	'[txguard "rule.TX001"]\n\tlevel = high' \
	'[txguard "class.test"]\n\tfailOn = sometimes' \
	'[txguard "class.test"]\n\tcolour = blue' \
	'[txguard "other"]\n\tx = 1' '[core]\n\tbare = false'
do
	test_expect_success "invalid subsection: $bad" "
		test_when_finished 'git checkout -q -- .txguard' &&
		printf '[txguard]\n\towner = x\n$bad\n' >.txguard &&
		test_expect_code 2 txguard check >out 2>err &&
		grep '\.txguard:[34]' err
	"
done

test_expect_success 'a syntax error names the file and line' '
	test_when_finished "git checkout -q -- .txguard" &&
	printf "[txguard]\n\towner = x\n[broken\n" >.txguard &&
	test_expect_code 2 txguard check >out 2>err &&
	grep "\.txguard" err && grep "3" err
'

# Without a .txguard in the working tree, the one in the index applies
# (as git falls back for .gitmodules); scan looks it up without loading
# the whole index. A split index, which neither txguard nor libgit2 1.5
# can read, is a clear error for every command, never a silent default.
test_expect_success 'a .txguard only in the index applies to scan; a split index is an error' '
	test_when_finished "git update-index --no-split-index; git reset -q --hard base" &&
	bad_py app/a.py &&
	git add app/a.py &&
	git commit -q -m debt &&
	test_expect_code 1 txguard scan >out &&
	printf "[txguard]\n\towner = get_background_session\n[txguard \"rule.TX001\"]\n\tseverity = off\n" >.txguard &&
	git add .txguard &&
	rm .txguard &&
	test_expect_code 0 txguard scan >out &&
	! grep TX001 out &&
	git update-index --split-index &&
	test -n "$(ls .git/sharedindex.* 2>/dev/null)" &&
	test_expect_code 2 txguard scan >out 2>err &&
	grep "split index" err && grep "no-split-index" err &&
	test_expect_code 2 txguard check >out 2>err &&
	grep "split index" err &&
	git update-index --no-split-index &&
	test_expect_code 0 txguard scan >out
'

test_expect_success 'a misspelt key names the key meant, also from git config' '
	test_when_finished "git checkout -q -- .txguard; git config --unset txguard.fail-on; true" &&
	printf "[txguard]\n\towner = x\n\tfail_on = never\n" >.txguard &&
	test_expect_code 2 txguard check >out 2>err &&
	grep "\.txguard:3: unknown key .fail_on. (did you mean failOn?)" err &&
	git checkout -q -- .txguard &&
	git config txguard.fail-on never &&
	test_expect_code 2 txguard check >out 2>err &&
	grep "unknown key .txguard.fail-on. (did you mean failOn?)" err
'

test_expect_success 'a single-valued key twice in one file names both lines' '
	test_when_finished "git checkout -q -- .txguard" &&
	printf "[txguard]\n\tfailOn = high\n\towner = x\n\tfailOn = never\n" >.txguard &&
	test_expect_code 2 txguard check >out 2>err &&
	grep "\.txguard:4: .txguard.failon. is given twice in this file: on line 2 and here" err
'

test_expect_success 'a baseline outside the working tree is refused' '
	test_when_finished "git checkout -q -- .txguard" &&
	for b in ../debt /tmp/debt sub/../../debt; do
		printf "[txguard]\n\towner = x\n\tbaseline = %s\n" "$b" >.txguard &&
		test_expect_code 2 txguard baseline >out 2>err &&
		grep "\.txguard:3: baseline .* is outside the working tree" err &&
		test_expect_code 2 txguard check >out 2>err || return 1
	done &&
	! test -e ../debt
'

test_expect_success 'a finding that does not block: the summary says what decided' '
	test_when_finished "git reset -q --hard base" &&
	bad_py tests/test_jobs.py &&
	git add tests &&
	test_expect_code 0 txguard check >out &&
	grep "commit allowed (fail-on: high, from the default; files of class test: never)" out &&
	printf "[txguard]\n\towner = get_background_session\n\tfailOn = never\n" >.txguard &&
	git add .txguard &&
	bad_py app/a.py && git add app &&
	test_expect_code 0 txguard check >out &&
	grep "commit allowed (fail-on: never, from \.txguard:3)" out &&
	test_expect_code 0 txguard check --fail-on never >out &&
	grep "(fail-on: never, from --fail-on)" out &&
	git config txguard.failOn never &&
	test_expect_code 0 txguard check >out &&
	grep "(fail-on: never, from git config (.*config:[0-9]*))" out &&
	git config --unset txguard.failOn
'

test_expect_success 'pyproject.toml: [tool.txguard] with the same keys, when there is no .txguard' '
	test_when_finished "git reset -q --hard base" &&
	git rm -q .txguard &&
	cat >pyproject.toml <<-\TOML &&
	[project]
	name = "shop"

	[tool.ruff]
	line-length = 100

	[tool.txguard]
	owner = ["get_background_session"]
	failOn = "critical"

	[tool.txguard.class.scripts]
	path = ["scripts/**"]
	failOn = "never"
	TOML
	bad_py app/a.py && bad_py scripts/s.py &&
	git add -A &&
	test_expect_code 1 txguard check >out &&
	grep "^app/a.py:4:15: critical TX001" out &&
	grep "owner configured in pyproject.toml" out &&
	grep "commit blocked (fail-on: critical)" out &&
	git reset -q app/a.py && rm app/a.py &&
	test_expect_code 0 txguard check >out &&
	grep "^scripts/s.py:4:15" out &&
	grep "files of class scripts: never" out &&
	install_hook . >/dev/null &&
	git commit -q -m "scripts may commit" &&
	bad_py app/b.py && git add app/b.py &&
	test_must_fail git commit -q -m "blocked by pyproject" >out 2>&1 &&
	grep "app/b.py:4:15: critical TX001" out &&
	grep -e "--no-verify" out &&
	sh "$TOP/install.sh" --uninstall . >/dev/null
'

test_expect_success 'pyproject.toml: errors name the file and line' '
	test_when_finished "git reset -q --hard base" &&
	git rm -q .txguard &&
	printf "[tool.txguard]\nowner = \"x\"\nfail_on = \"never\"\n" >pyproject.toml &&
	test_expect_code 2 txguard check >out 2>err &&
	grep "pyproject.toml:3: unknown key .tool.txguard.fail_on. (did you mean failOn?)" err &&
	printf "[tool.txguard]\nfailOn = \"high\"\nowner = \"x\"\nfailOn = \"low\"\n" >pyproject.toml &&
	test_expect_code 2 txguard check >out 2>err &&
	grep "pyproject.toml:4: key .failOn. is given twice: on line 2 and here" err &&
	printf "[tool.txguard]\nfailOn = high\n" >pyproject.toml &&
	test_expect_code 2 txguard check >out 2>err &&
	grep "pyproject.toml:2:[0-9]*: TOML syntax error" err &&
	printf "[tool.txguard]\nbaseline = \"../debt\"\n" >pyproject.toml &&
	test_expect_code 2 txguard baseline >out 2>err &&
	grep "pyproject.toml:2: baseline .../debt. is outside the working tree" err &&
	printf "[tool.other]\nx = [broken\n" >pyproject.toml &&
	txguard check >out 2>err
'

test_expect_success 'both .txguard and pyproject.toml: .txguard wins, with a notice' '
	test_when_finished "git reset -q --hard base" &&
	printf "[tool.txguard]\nfailOn = \"never\"\n" >pyproject.toml &&
	bad_py app/a.py &&
	git add -A &&
	test_expect_code 1 txguard check >out &&
	grep "notice: pyproject.toml.s \[tool.txguard\] is ignored: .txguard takes precedence" out
'

test_expect_success 'an include that selects none of the changed Python files says so' '
	test_when_finished "git reset -q --hard base" &&
	printf "[txguard]\n\towner = get_background_session\n\tinclude = app/**/*.py\n" >.txguard &&
	git add .txguard && git commit -q --no-verify -m "app only" &&
	bad_py lib/a.py && bad_py lib/b.py && echo notes >README &&
	git add -A &&
	test_expect_code 0 txguard check >out &&
	grep "notice: include (app/\*\*/\*.py) selects none of the 2 changed Python files (lib/a.py, lib/b.py): nothing was checked" out &&
	grep "3 files skipped (1 not Python, 2 Python, not selected by include/exclude)" out &&
	test_expect_code 0 txguard check --format json >out.json &&
	python3 -c "import json; s = json.load(open(\"out.json\"))[\"summary\"]; assert s[\"skipped\"][\"not_selected\"] == 2 and s[\"skipped\"][\"not_python\"] == 1, s" &&
	bad_py app/c.py && git add app &&
	test_expect_code 1 txguard check >out &&
	! grep "selects none" out &&
	grep "2 Python, not selected" out
'

test_done
