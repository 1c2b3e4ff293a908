#!/bin/sh
# --format json: one versioned object with the promised fields.
. "$(dirname "$0")/lib.sh"

test_create_repo repo && cd repo || exit 1

test_expect_success 'setup: old debt, then a new violation staged' '
	write_txguard_config &&
	write_job app/jobs.py bad &&
	git add . &&
	git commit -q -m base &&
	sed "s/status = 1/status = 2/" app/jobs.py >tmp && mv tmp app/jobs.py &&
	write_job app/new.py bad &&
	git add app/jobs.py app/new.py
'

test_expect_success 'json parses and carries version 1, findings and summary' '
	test_expect_code 1 txguard check --format json >out 2>err &&
	python3 -c "import json, sys; json.load(sys.stdin)" <out &&
	python3 - out <<-\EOF
	import json, sys
	doc = json.load(open(sys.argv[1]))
	assert doc["version"] == 1, doc["version"]
	assert isinstance(doc["findings"], list)
	keys = ("rule", "severity", "path", "line", "column", "end_line", "unit",
	        "message", "help", "owner", "fingerprint", "status")
	for f in doc["findings"]:
	    missing = [k for k in keys if k not in f]
	    assert not missing, (missing, f)
	new = [f for f in doc["findings"] if f["status"] == "new"]
	assert len(new) == 1, new
	f = new[0]
	assert f["rule"] == "TX001", f
	assert f["severity"] == "critical", f
	assert f["path"] == "app/new.py", f
	assert (f["line"], f["column"], f["end_line"]) == (9, 15, 9), f
	assert f["unit"] == "mark_running", f
	assert "get_background_session" in f["owner"], f
	assert f["message"] and f["help"] and f["fingerprint"], f
	summary = doc["summary"]
	assert summary["blocked"] is True, summary
	EOF
'

test_expect_success 'json --all lists the pre-existing finding with its status' '
	test_expect_code 1 txguard check --format json --all >out 2>err &&
	python3 - out <<-\EOF
	import json, sys
	doc = json.load(open(sys.argv[1]))
	st = sorted((f["path"], f["status"]) for f in doc["findings"])
	assert st == [("app/jobs.py", "pre-existing"), ("app/new.py", "new")], st
	old = [f for f in doc["findings"] if f["path"] == "app/jobs.py"][0]
	new = [f for f in doc["findings"] if f["path"] == "app/new.py"][0]
	assert old["fingerprint"] != new["fingerprint"]
	EOF
'

test_expect_success 'json with nothing new: empty findings, blocked false' '
	cp .git/index ../index.save &&
	test_when_finished "cp ../index.save .git/index" &&
	git reset -q &&
	test_expect_code 0 txguard check --format json >out 2>err &&
	python3 - out <<-\EOF
	import json, sys
	doc = json.load(open(sys.argv[1]))
	assert doc["version"] == 1
	assert [f for f in doc["findings"] if f["status"] == "new"] == []
	assert doc["summary"]["blocked"] is False, doc["summary"]
	EOF
'

test_expect_success 'json escapes odd file names' '
	test_when_finished "git reset -q -- \"app/we*name.py\" && rm -f app/we*name.py" &&
	name="app/we\"ird $(printf "\t")name.py" &&
	write_job "$name" bad &&
	git add "$name" &&
	test_expect_code 1 txguard check --format json >out 2>err &&
	python3 - out "$name" <<-\EOF
	import json, sys
	doc = json.load(open(sys.argv[1]))
	paths = [f["path"] for f in doc["findings"]]
	assert sys.argv[2] in paths, paths
	EOF
'

test_expect_success '--output FILE writes the report there' '
	test_expect_code 1 txguard check --format json --output report.json >out 2>err &&
	test_must_fail test -s out &&
	python3 -c "import json; json.load(open(\"report.json\"))" &&
	rm report.json
'

test_done
