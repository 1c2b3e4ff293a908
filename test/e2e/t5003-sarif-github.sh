#!/bin/sh
# SARIF 2.1.0 (validated against the published schema with a real
# validator) and GitHub workflow commands.
. "$(dirname "$0")/lib.sh"

schema=$(sh "$TOP/test/sarif/fetch-schema.sh" --cached 2>"$TRASH_DIRECTORY/schema.err") || {
	echo "not ok 1 - the SARIF 2.1.0 schema was not fetched by the build"
	sed 's/^/# /' "$TRASH_DIRECTORY/schema.err"
	exit 1
}

test_create_repo repo && cd repo || exit 1

test_expect_success 'setup: old debt, a baseline, a suppressed line and odd paths' '
	write_txguard_config &&
	write_job "app/with space.py" bad &&
	write_job "app/ünï%#?.py" bad &&
	git add -A &&
	git commit -q -m base &&
	txguard baseline >out &&
	git add .txguard-baseline &&
	git commit -q -m baseline &&
	cat >>"app/with space.py" <<-\PY &&

	async def fresh(x):
	    async with get_background_session() as session:
	        await session.commit()

	async def quiet(x):
	    async with get_background_session() as session:
	        await session.rollback()  # txguard: ignore[TX001]
	PY
	git add -A
'

test_expect_success 'check --format sarif validates against the 2.1.0 schema' '
	test_expect_code 1 txguard check --format sarif >out.sarif &&
	python3 "$TOP/test/sarif/validate.py" "$schema" out.sarif
'

test_expect_success 'check --format github: one escaped annotation per new finding' '
	test_expect_code 1 txguard check --format github >out &&
	test "$(grep -c "^::error " out)" = 1 &&
	grep "^::error file=app/with space.py,line=28,col=15,endLine=28,endColumn=31,title=TX001 critical::" out
'

test_expect_success 'scan --format sarif (baselined and suppressed) validates too' '
	git commit -q --no-verify -m fresh &&
	test_expect_code 1 txguard scan --format sarif -o scan.sarif &&
	python3 "$TOP/test/sarif/validate.py" "$schema" scan.sarif
'

test_expect_success 'SARIF: statuses, suppressions, fingerprints, rules, URIs' '
	python3 - scan.sarif <<-\PY
	import json, sys
	run = json.load(open(sys.argv[1]))["runs"][0]
	assert run["tool"]["driver"]["name"] == "txguard"
	rules = {r["id"] for r in run["tool"]["driver"]["rules"]}
	assert "TX001" in rules, rules
	res = run["results"]
	kinds = sorted(str([s["kind"] for s in r.get("suppressions", [])]) for r in res)
	assert kinds.count("[]") == 1, kinds            # the fresh one
	assert kinds.count("[\x27external\x27]") == 2, kinds  # baselined
	assert kinds.count("[\x27inSource\x27]") == 1, kinds  # suppressed
	for r in res:
	    assert r["ruleId"] == "TX001"
	    assert len(r["partialFingerprints"]["txguard/v1"]) == 16
	    loc = r["locations"][0]["physicalLocation"]
	    uri = loc["artifactLocation"]["uri"]
	    assert " " not in uri and "#" not in uri and "?" not in uri, uri
	    assert loc["region"]["startLine"] >= 1
	uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in res}
	assert "app/with%20space.py" in uris, uris
	PY
'

test_expect_success 'github: commas and colons in paths are escaped in properties' '
	git mv "app/with space.py" "app/a,b:c.py" &&
	printf "\nasync def more(x):\n    async with get_background_session() as s:\n        await s.commit()\n" >>"app/a,b:c.py" &&
	git add -A &&
	test_expect_code 1 txguard check --format github --no-baseline >out &&
	grep "file=app/a%2Cb%3Ac.py," out
'

test_expect_success '--output writes the report to a file, nothing on stdout' '
	test_expect_code 1 txguard check --format json -o report.json >out &&
	test_must_fail test -s out &&
	python3 -c "import json; d = json.load(open(\"report.json\")); assert d[\"version\"] == 1"
'

test_done
