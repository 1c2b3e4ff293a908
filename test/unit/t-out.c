/*
 * SARIF and GitHub outputs: field checks with jansson, GitHub's
 * escaping, and the SARIF validated against the published 2.1.0 schema
 * by a real validator (test/sarif/validate.py, python3-jsonschema) on
 * findings of every status with hostile paths.
 */
#include "txguard/common.h"
#include "txguard/out.h"
#include "txguard/out_render.h"
#include "txguard/report.h"
#include "txguard/rules.h"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <unistd.h>

static void add(struct tg_report *r, const char *path, enum tg_status st,
		const char *fp)
{
	struct tg_finding *f = tg_findings_add(&r->findings);

	f->rule = tg_rules_lookup("TX001");
	f->severity = f->rule->severity;
	f->path = tg_xstrdup(path);
	f->unit = tg_xstrdup("Jobs.run");
	f->line = 12;
	f->column = 9;
	f->end_line = 13;
	f->end_column = 4;
	f->message = tg_xstrdup("50% done: commit(), inside\r\nthe owner");
	f->help = tg_xstrdup("remove the commit");
	f->call_text = tg_xstrdup("await session.commit()");
	f->owner_text = tg_xstrdup("get_background_session()");
	snprintf(f->fingerprint, sizeof(f->fingerprint), "%s", fp);
	f->status = st;
}

static void fill(struct tg_report *r)
{
	add(r, "app/jobs.py", TG_STATUS_NEW, "0123456789abcdef");
	add(r, "with space/a,b:c%#?.py", TG_STATUS_BASELINED, "1111111111111111");
	add(r, "caf\xc3\xa9/new\nline\"q\".py", TG_STATUS_PREEXISTING,
	    "2222222222222222");
	add(r, "bad\xff.py", TG_STATUS_SUPPRESSED, "3333333333333333");
	tg_report_notice(r, "skipped big.py: larger than 8m");
	tg_report_finish(r, TG_SEV_HIGH);
}

static char *render(int (*fn)(FILE *, const struct tg_report *,
			      const struct tg_out_opts *),
		    const struct tg_report *r, bool all)
{
	struct tg_out_opts opts = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	assert_non_null(fp);
	opts.all = all;
	assert_int_equal(fn(fp, r, &opts), 0);
	fclose(fp);
	return buf;
}

static void test_github(void **state)
{
	struct tg_report r = TG_REPORT_INIT;
	char *out;

	(void)state;
	fill(&r);
	out = render(tg_out_github, &r, false);
	assert_non_null(strstr(out,
		"::error file=app/jobs.py,line=12,col=9,endLine=13,endColumn=4,"
		"title=TX001 critical::50%25 done: commit(), inside%0D%0Athe owner"
		"%0Ahelp: remove the commit\n"));
	assert_null(strstr(out, "(baselined)"));
	assert_non_null(strstr(out, "::notice title=txguard::skipped big.py: larger than 8m\n"));
	assert_non_null(strstr(out, "txguard: 1 new finding (1 critical"));
	assert_non_null(strstr(out, "blocked\n"));
	free(out);

	out = render(tg_out_github, &r, true);
	assert_non_null(strstr(out,
		"::notice file=with space/a%2Cb%3Ac%25#?.py,line=12,"));
	assert_non_null(strstr(out, "title=TX001 critical (baselined)::"));
	/* quoted as git quotes a path: no raw newline reaches the runner */
	assert_non_null(strstr(out,
		"::notice file=\"caf\xc3\xa9/new\\nline\\\"q\\\".py\","));
	/* one physical line per annotation: 4 findings + notice + summary */
	{
		size_t nl = 0;

		for (char *p = out; *p; p++)
			nl += *p == '\n';
		assert_int_equal(nl, 6);
	}
	free(out);
	tg_report_release(&r);
}

/* Every text format: a file name cannot drive the terminal that shows it. */
static void test_control_characters(void **state)
{
	static int (*const writers[])(FILE *, const struct tg_report *,
				      const struct tg_out_opts *) = {
		tg_out_text, tg_out_concise, tg_out_github,
	};
	struct tg_report r = TG_REPORT_INIT;

	(void)state;
	add(&r, "a\033[2Jb\x07\x7f\xc2\x9b" "31m.py", TG_STATUS_NEW,
	    "0123456789abcdef");
	tg_report_notice(&r, "skipped a\033]0;title\x07.py");
	tg_report_finish(&r, TG_SEV_HIGH);
	for (size_t i = 0; i < TG_ARRAY_SIZE(writers); i++) {
		char *out = render(writers[i], &r, true);

		assert_non_null(strstr(out, "\"a\\033[2Jb\\a\\177\\302\\23331m.py\""));
		assert_non_null(strstr(out, "skipped a\\033]0;title\\007.py"));
		for (const unsigned char *p = (const unsigned char *)out; *p; p++)
			assert_true(*p == '\n' || *p == '\t' ||
				    (*p >= 0x20 && *p != 0x7f &&
				     !(p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)));
		free(out);
	}
	tg_report_release(&r);
}

/* Concise: one line a finding; paths follow the current directory. */
static void test_concise(void **state)
{
	struct tg_report r = TG_REPORT_INIT;
	struct tg_out_opts opts = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	(void)state;
	fill(&r);
	fp = open_memstream(&buf, &len);
	opts.cwd_prefix = "backend/";
	assert_int_equal(tg_out_concise(fp, &r, &opts), 0);
	fclose(fp);
	assert_non_null(strstr(buf,
		"../app/jobs.py:12:9: TX001 50% done: commit(), inside  the owner\n"));
	assert_null(strstr(buf, "[baselined]"));
	free(buf);

	buf = NULL;
	fp = open_memstream(&buf, &len);
	opts.cwd_prefix = "app/";
	assert_int_equal(tg_out_concise(fp, &r, &opts), 0);
	fclose(fp);
	assert_memory_equal(buf, "jobs.py:12:9: TX001 ", 20);
	free(buf);
	tg_report_release(&r);
}

/* GitLab code quality: the fields GitLab reads, new findings only. */
static void test_gitlab(void **state)
{
	struct tg_report r = TG_REPORT_INIT;
	char *out;
	json_t *doc, *issue;
	json_error_t err;

	(void)state;
	fill(&r);
	out = render(tg_out_gitlab, &r, false);
	doc = json_loads(out, 0, &err);
	assert_non_null(doc);
	assert_true(json_is_array(doc));
	assert_int_equal(json_array_size(doc), 1);
	issue = json_array_get(doc, 0);
	assert_string_equal(json_string_value(json_object_get(issue, "check_name")), "TX001");
	assert_string_equal(json_string_value(json_object_get(issue, "severity")), "critical");
	assert_string_equal(json_string_value(json_object_get(issue, "fingerprint")), "0123456789abcdef");
	assert_non_null(strstr(json_string_value(json_object_get(issue, "description")), "50% done"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(issue, "location"), "path")), "app/jobs.py");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(issue, "location"), "lines"), "begin")), 12);
	json_decref(doc);
	free(out);

	out = render(tg_out_gitlab, &r, true);
	doc = json_loads(out, 0, &err);
	assert_non_null(doc);
	assert_int_equal(json_array_size(doc), 4);
	json_decref(doc);
	free(out);
	tg_report_release(&r);
}

static void test_sarif_fields(void **state)
{
	struct tg_report r = TG_REPORT_INIT;
	char *out;
	json_t *root, *run, *res, *loc, *rule;
	json_error_t err;

	(void)state;
	fill(&r);
	out = render(tg_out_sarif, &r, false);
	root = json_loads(out, 0, &err);
	if (!root)
		fail_msg("not JSON: %s", err.text);
	assert_string_equal(json_string_value(json_object_get(root, "version")), "2.1.0");
	run = json_array_get(json_object_get(root, "runs"), 0);
	rule = json_array_get(json_object_get(json_object_get(json_object_get(
		run, "tool"), "driver"), "rules"), 0);
	assert_string_equal(json_string_value(json_object_get(rule, "id")), "TX001");
	assert_string_equal(json_string_value(json_object_get(
		json_object_get(rule, "defaultConfiguration"), "level")), "error");
	res = json_object_get(run, "results");
	/* every finding, --all or not */
	assert_int_equal(json_array_size(res), 4);
	assert_null(json_object_get(json_array_get(res, 0), "suppressions"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(
		json_array_get(res, 0), "partialFingerprints"), "txguard/v1")),
		"0123456789abcdef");
	loc = json_object_get(json_object_get(json_array_get(json_object_get(
		json_array_get(res, 3), "locations"), 0), "physicalLocation"),
		"artifactLocation");
	assert_string_equal(json_string_value(json_object_get(loc, "uri")),
			    "with%20space/a,b%3Ac%25%23%3F.py");
	assert_string_equal(json_string_value(json_object_get(loc, "uriBaseId")),
			    "%SRCROOT%");
	loc = json_object_get(json_object_get(json_array_get(json_object_get(
		json_array_get(res, 2), "locations"), 0), "physicalLocation"),
		"artifactLocation");
	assert_string_equal(json_string_value(json_object_get(loc, "uri")),
			    "caf%C3%A9/new%0Aline%22q%22.py");
	loc = json_object_get(json_object_get(json_array_get(json_object_get(
		json_array_get(res, 1), "locations"), 0), "physicalLocation"),
		"artifactLocation");
	assert_string_equal(json_string_value(json_object_get(loc, "uri")), "bad%FF.py");
	{
		/* tg_report_finish() sorted by path: new, suppressed, pre-existing, baselined */
		static const char *const kinds[] = { NULL, "inSource", "external", "external" };

		for (size_t i = 1; i < 4; i++) {
			json_t *s = json_array_get(json_object_get(
				json_array_get(res, i), "suppressions"), 0);

			assert_string_equal(json_string_value(json_object_get(s, "kind")),
					    kinds[i]);
			assert_non_null(json_string_value(json_object_get(s, "justification")));
		}
	}
	assert_true(json_is_true(json_object_get(json_array_get(json_object_get(
		run, "invocations"), 0), "executionSuccessful")));
	json_decref(root);
	free(out);
	tg_report_release(&r);
}

/*
 * Run test/sarif/validate.py on `file` against the pinned schema; its
 * output goes to stderr as TAP comments so it never breaks an "ok" line.
 */
static int validate(const char *file)
{
	char *cmd = tg_xasprintf(
		"out=$(schema=$(sh test/sarif/fetch-schema.sh --cached) && "
		"python3 test/sarif/validate.py \"$schema\" '%s' 2>&1); rc=$?; "
		"printf '%%s\\n' \"$out\" | sed 's/^/# /' >&2; exit $rc", file);
	int rc;

	fflush(stdout);
	rc = system(cmd);
	free(cmd);
	return rc;
}

/* Validate against the published schema; the CI installs the validator. */
static void test_sarif_schema(void **state)
{
	struct tg_report r = TG_REPORT_INIT;
	const char *tmpdir = getenv("TMPDIR");
	char *file = tg_xasprintf("%s/t-out.%ld.sarif", tmpdir ? tmpdir : "/tmp",
				  (long)getpid());
	FILE *fp;
	int rc;

	(void)state;
	if (access("test/sarif/validate.py", R_OK) < 0)
		fail_msg("run from the top of the source tree");
	fill(&r);
	fp = fopen(file, "w");
	assert_non_null(fp);
	assert_int_equal(tg_out_sarif(fp, &r, &(struct tg_out_opts){ 0 }), 0);
	assert_int_equal(fclose(fp), 0);
	rc = validate(file);
	if (rc != 0)
		fail_msg("SARIF schema validation failed (status %d), kept %s", rc, file);

	/* the validator is not vacuous: a bad level and a bad URI fail */
	fp = fopen(file, "w");
	assert_non_null(fp);
	fputs("{\"version\": \"2.1.0\", \"runs\": [{\"tool\": {\"driver\": "
	      "{\"name\": \"x\"}}, \"results\": [{\"message\": {\"text\": "
	      "\"m\"}, \"level\": \"fatal\"}]}]}\n", fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_not_equal(validate(file), 0);
	unlink(file);
	free(file);
	tg_report_release(&r);
}

static json_t *nth_number(void *ctx, size_t i)
{
	json_t *o = json_object();

	(void)ctx;
	json_object_set_new(o, "i", json_integer((json_int_t)i));
	json_object_set_new(o, "sub", json_pack("[s, {s: i}]", "x", "y", 1));
	return o;
}

/*
 * The reports are written a finding at a time (a large report is not
 * held twice): the text is the one jansson makes from the whole document,
 * whatever the number of items, wherever the array sits, even when a
 * notice reads like the placeholder.
 */
static void test_stream(void **state)
{
	static const size_t counts[] = { 0, 1, 3 };

	(void)state;
	for (size_t c = 0; c < TG_ARRAY_SIZE(counts); c++) {
		for (int nested = 0; nested < 2; nested++) {
			json_t *root = json_object(), *parent = root, *whole;
			json_t *items = json_array();
			char *buf = NULL, *want;
			size_t len = 0;
			FILE *fp = open_memstream(&buf, &len);

			json_object_set_new(root, "before",
					    json_string("txguard-items-0"));
			if (nested) {
				json_t *runs = json_array();

				parent = json_object();
				json_object_set_new(parent, "tool",
						    json_string("t"));
				json_array_append_new(runs, parent);
				json_object_set_new(root, "runs", runs);
			}
			json_object_set_new(parent, "items", json_null());
			json_object_set_new(parent, "after",
					    json_string("txguard-items-1"));
			for (size_t i = 0; i < counts[c]; i++)
				json_array_append_new(items,
						      nth_number(NULL, i));
			whole = json_deep_copy(root);
			json_object_set_new(nested ?
				json_array_get(json_object_get(whole, "runs"), 0) :
				whole, "items", items);
			want = json_dumps(whole, JSON_INDENT(2) |
						 JSON_PRESERVE_ORDER);
			json_decref(whole);
			assert_non_null(fp);
			assert_int_equal(tg_out_json_stream(fp, root, parent,
							    "items",
							    nth_number, NULL,
							    counts[c], "test"),
					 0);
			fclose(fp);
			assert_int_equal(len, strlen(want) + 1);
			assert_memory_equal(buf, want, strlen(want));
			assert_int_equal(buf[len - 1], '\n');
			free(want);
			free(buf);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_github),
		cmocka_unit_test(test_control_characters),
		cmocka_unit_test(test_concise),
		cmocka_unit_test(test_gitlab),
		cmocka_unit_test(test_sarif_fields),
		cmocka_unit_test(test_sarif_schema),
		cmocka_unit_test(test_stream),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
