#!/bin/sh
# The concise and GitLab formats, and output that cannot drive a
# terminal: a file name made of escape sequences is quoted as git
# quotes it in every text format, notices included.
. "$(dirname "$0")/lib.sh"

test_create_repo repo && cd repo || exit 1

evil=$(printf 'app/ev\033[2J\033]0;pwned\007il\302\233m.py')

test_expect_success 'setup: a TX001 in a plain file and in a file named with escapes' '
	write_txguard_config &&
	write_job app/jobs.py &&
	git add . &&
	git commit -q -m base &&
	write_job app/jobs.py bad &&
	bad_py "$evil" &&
	git add -A
'

test_expect_success 'concise: path:line:col: RULE message, one line a finding' '
	test_expect_code 1 txguard check --format concise >out 2>err &&
	grep "^app/jobs.py:9:15: TX001 session.commit() inside" out &&
	test "$(grep -c ": TX001 " out)" = 2 &&
	grep "^txguard: 2 new findings .* - commit blocked" out
'

test_expect_success 'text, concise and github quote the name as git does' '
	git -c core.quotePath=true diff --cached --name-only >names &&
	grep "^\"app/ev" names >quoted &&
	test "$(wc -l <quoted)" = 1 &&
	for f in text concise github; do
		test_expect_code 1 txguard check --format $f >out 2>err &&
		grep -F "$(cat quoted)" out >/dev/null &&
		if LC_ALL=C grep -q "$(printf "\033")" out; then echo "ESC in $f output"; false; fi &&
		if LC_ALL=C grep -q "$(printf "\007")" out; then echo "BEL in $f output"; false; fi &&
		if LC_ALL=C grep -q "$(printf "\302\233")" out; then echo "C1 CSI in $f output"; false; fi ||
		return 1
	done &&
	grep -F "::error file=$(sed "s/:/%3A/g; s/,/%2C/g" quoted),line=4," out
'

test_expect_success 'the quoted name, spelled out' '
	txguard check --format concise >out 2>err;
	grep -F "\"app/ev\\033[2J\\033]0;pwned\\ail\\302\\233m.py\":4:15: TX001" out
'

test_expect_success 'a notice naming such a file is escaped too' '
	printf "[txguard]\n\towner = get_background_session\n\tmaxFileSize = 10\n" >.txguard &&
	git add .txguard &&
	txguard check >out 2>err;
	grep "notice: .*ev\\\\033\\[2J" out &&
	if LC_ALL=C grep -q "$(printf "\\033")" out; then false; fi &&
	write_txguard_config && git add .txguard
'

test_expect_success 'gitlab: a code-quality report with repository-relative paths' '
	mkdir -p app/sub &&
	cd app/sub &&
	test_expect_code 1 txguard check --format gitlab >../../gl.json 2>err &&
	cd ../.. &&
	python3 - gl.json "$evil" <<-\PY
	import json, sys
	doc = json.load(open(sys.argv[1], encoding="utf-8"))
	assert isinstance(doc, list) and len(doc) == 2, doc
	paths = sorted(i["location"]["path"] for i in doc)
	assert paths == sorted(["app/jobs.py", sys.argv[2]]), paths
	for i in doc:
	    assert i["check_name"] == "TX001"
	    assert i["severity"] == "critical"
	    assert len(i["fingerprint"]) == 16
	    assert i["description"].startswith("TX001 ")
	    assert i["location"]["lines"]["begin"] in (4, 9)
	PY
'

test_expect_success 'text paths follow the current directory; machine formats do not' '
	mkdir -p docs &&
	(cd app && test_expect_code 1 txguard check --format concise >../out) &&
	grep "^jobs.py:9:15: TX001" out &&
	(cd docs && test_expect_code 1 txguard check >../out) &&
	grep "^\.\./app/jobs.py:9:15: critical TX001" out &&
	(cd docs && test_expect_code 1 txguard check --format json >../out) &&
	grep "\"path\": \"app/jobs.py\"" out
'

test_done
