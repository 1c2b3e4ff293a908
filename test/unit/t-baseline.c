/*
 * The baseline file: round trip, sorting, comments,
 * multiplicity, malformed input with file:line messages, CRLF, odd paths,
 * prunable entries in both scopes, and the atomic write.
 *
 * Not here: the real `git merge` of two branches that each add entries
 * under `merge=union` needs git and the CLI; it belongs to an e2e test.
 * test_union_merged checks the file such a merge leaves.
 */
#include "txguard/common.h"
#include "txguard/baseline.h"
#include "txguard/buf.h"
#include "txguard/error.h"
#include "txguard/finding.h"
#include "txguard/rules.h"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

static void add(struct tg_findings *l, const char *fp, const char *path,
		const char *unit, const char *call)
{
	struct tg_finding *f = tg_findings_add(l);

	f->rule = tg_rules_lookup("TX001");
	assert_non_null(f->rule);
	f->severity = f->rule->severity;
	f->path = tg_xstrdup(path);
	f->unit = tg_xstrdup(unit);
	f->call_text = tg_xstrdup(call);
	f->owner_text = tg_xstrdup("");
	f->message = tg_xstrdup("explicit commit inside a managed transaction");
	f->line = 3;
	f->column = 5;
	f->end_line = 3;
	f->end_column = 22;
	snprintf(f->fingerprint, sizeof(f->fingerprint), "%s", fp);
	f->status = TG_STATUS_NEW;
}

static void parse_ok(struct tg_baseline *b, const char *text)
{
	int rc = tg_baseline_parse(b, "BL", text, strlen(text));

	if (rc)
		fail_msg("parse failed: %s", tg_error_last());
}

static void parse_bad(const char *text, size_t len, const char *want)
{
	struct tg_baseline b = TG_BASELINE_INIT;

	assert_int_equal(tg_baseline_parse(&b, "BL", text, len), TG_EPARSE);
	if (!strstr(tg_error_last(), want))
		fail_msg("error '%s' lacks '%s'", tg_error_last(), want);
	assert_int_equal(b.nr, 0);
	tg_baseline_release(&b);
}

static void test_round_trip_sorted(void **state)
{
	struct tg_findings l = TG_FINDINGS_INIT;
	struct tg_buf out = TG_BUF_INIT, again = TG_BUF_INIT;
	struct tg_baseline b = TG_BASELINE_INIT;
	const char *first, *second;

	(void)state;
	add(&l, "ffff000000000001", "app/z.py", "Z.run", "session.commit()");
	add(&l, "0000000000000002", "app/a.py", "handler", "await session.commit()");
	add(&l, "8000000000000003", "app/m.py", "<module>", "s.rollback()");
	tg_baseline_format(&out, &l, NULL);
	assert_memory_equal(out.ptr, tg_baseline_default_header,
			    strlen(tg_baseline_default_header));
	assert_non_null(strstr(out.ptr, "merge=union"));
	first = strstr(out.ptr, "0000000000000002 TX001 app/a.py handler \"await session.commit()\"\n");
	second = strstr(out.ptr, "8000000000000003 TX001 app/m.py <module> s.rollback()\n");
	assert_non_null(first);
	assert_non_null(second);
	assert_true(first < second);
	assert_true(second < strstr(out.ptr, "ffff000000000001"));

	parse_ok(&b, out.ptr);
	assert_int_equal(b.nr, 3);
	assert_string_equal(b.v[0].fingerprint, "0000000000000002");
	assert_string_equal(b.v[0].rule, "TX001");
	assert_string_equal(b.v[0].path, "app/a.py");
	assert_string_equal(b.v[0].unit, "handler");
	assert_string_equal(b.v[0].call_text, "await session.commit()");
	assert_string_equal(b.comments.ptr, tg_baseline_default_header);

	/* any input order gives the same bytes; rewriting keeps the header */
	tg_findings_sort(&l);
	tg_baseline_format(&again, &l, b.comments.ptr);
	assert_string_equal(out.ptr, again.ptr);
	tg_baseline_release(&b);
	tg_buf_release(&out);
	tg_buf_release(&again);
	tg_findings_release(&l);
}

static void test_comments_kept(void **state)
{
	struct tg_baseline b = TG_BASELINE_INIT;
	struct tg_findings l = TG_FINDINGS_INIT;
	struct tg_buf out = TG_BUF_INIT;

	(void)state;
	parse_ok(&b, "# ours: do not edit by hand\n\n"
		     "0000000000000001 TX001 a.py f \"s.commit()\"\n"
		     "#   owned by team payments\n"
		     "\n");
	assert_int_equal(b.nr, 1);
	assert_string_equal(b.comments.ptr,
			    "# ours: do not edit by hand\n#   owned by team payments\n");
	add(&l, "0000000000000001", "a.py", "f", "s.commit()");
	tg_baseline_format(&out, &l, b.comments.ptr);
	assert_string_equal(out.ptr, "# ours: do not edit by hand\n"
				     "#   owned by team payments\n"
				     "0000000000000001 TX001 a.py f s.commit()\n");
	tg_buf_release(&out);
	tg_findings_release(&l);
	tg_baseline_release(&b);
}

static void test_empty_and_crlf(void **state)
{
	struct tg_baseline b = TG_BASELINE_INIT;

	(void)state;
	parse_ok(&b, "");
	assert_int_equal(b.nr, 0);
	tg_baseline_release(&b);
	parse_ok(&b, "# c\r\n0000000000000001 TX001 a.py f \"x y\"\r\n"
		     "0000000000000002 TX001 b.py g h()");
	assert_int_equal(b.nr, 2);
	assert_string_equal(b.v[0].call_text, "x y");
	assert_string_equal(b.v[1].call_text, "h()");
	assert_int_equal(b.v[1].line, 3);
	assert_string_equal(b.comments.ptr, "# c\n");
	tg_baseline_release(&b);
}

static void test_odd_paths(void **state)
{
	static const char *const paths[] = {
		"with space/a b.py", "quote\"d.py", "back\\slash.py",
		"new\nline.py", "tab\there.py", "cr\rx.py", "caf\xc3\xa9.py",
		"bad\xff\xfe.py", "ctl\x01\x7f.py", "#hash.py", "%41.py",
	};
	struct tg_findings l = TG_FINDINGS_INIT;
	struct tg_buf out = TG_BUF_INIT;
	struct tg_baseline b = TG_BASELINE_INIT;
	char fp[17];

	(void)state;
	for (size_t i = 0; i < TG_ARRAY_SIZE(paths); i++) {
		snprintf(fp, sizeof(fp), "%016zx", i);
		add(&l, fp, paths[i], "u\xce\xbb", "s.execute(\"a\\n\")\n.commit()");
	}
	tg_baseline_format(&out, &l, "# x\n");
	/* one line per finding: no raw newline, CR or byte >= 0x80 leaks */
	{
		size_t nl = 0;

		for (size_t i = 0; i < out.len; i++) {
			nl += out.ptr[i] == '\n';
			assert_true((unsigned char)out.ptr[i] < 0x80);
			assert_true(out.ptr[i] != '\r');
		}
		assert_int_equal(nl, TG_ARRAY_SIZE(paths) + 1);
	}
	parse_ok(&b, out.ptr);
	assert_int_equal(b.nr, TG_ARRAY_SIZE(paths));
	for (size_t i = 0; i < b.nr; i++) {
		size_t k = strtoul(b.v[i].fingerprint, NULL, 16);

		assert_string_equal(b.v[i].path, paths[k]);
		assert_string_equal(b.v[i].unit, "u\xce\xbb");
		assert_string_equal(b.v[i].call_text, "s.execute(\"a\\n\")\n.commit()");
	}
	tg_baseline_release(&b);
	tg_buf_release(&out);
	tg_findings_release(&l);
}

static void test_malformed(void **state)
{
	static const char big_head[] = "0000000000000001 TX001 a.py f ";
	size_t biglen = TG_BASELINE_MAX_LINE + 100;
	char *big = tg_xmalloc(biglen);

	(void)state;
	parse_bad("# ok\nnot a line\n", 16, "BL:2: expected a fingerprint");
	parse_bad("00000000000000 TX001 a f c\n", 27, "BL:1: expected a fingerprint");
	parse_bad("00000000000000AB TX001 a f c\n", 29, "BL:1: expected a fingerprint");
	parse_bad("0000000000000001 TX001 a f\n", 27, "BL:1: expected rule, path");
	parse_bad("0000000000000001  TX001 a f c\n", 30, "BL:1: expected a rule id");
	parse_bad("0000000000000001 TX001 a f c extra\n", 35, "BL:1: trailing text");
	parse_bad("0000000000000001 TX001 \"a f c\n", 30, "BL:1: unterminated quoted");
	parse_bad("0000000000000001 TX001 \"a\\q\" f c\n", 33, "BL:1: bad escape");
	parse_bad("0000000000000001 TX001 \"a\\000\" f c\n", 35, "BL:1: bad octal");
	parse_bad("0000000000000001 TX001 a\xff f c\n", 29, "BL:1: unquoted field");
	parse_bad("\n\n0000000000000001 TX001 a f c\x00junk\n", 36, "BL:3: NUL byte");
	parse_bad("0000000000000001 TX001 a f c\n000000000000", 41, "BL:2:");
	/* binary garbage */
	parse_bad("\x7f" "ELF\x02\x01\x01", 7, "BL:1:");
	/* a line of more than a megabyte */
	memset(big, 'x', biglen);
	memcpy(big, big_head, strlen(big_head));
	parse_bad(big, biglen, "BL:1: line longer than");
	/* a long line under the limit is fine */
	{
		struct tg_baseline b = TG_BASELINE_INIT;
		size_t n = 512 * 1024;

		assert_int_equal(tg_baseline_parse(&b, "BL", big, n), 0);
		assert_int_equal(b.nr, 1);
		assert_int_equal(strlen(b.v[0].call_text), n - strlen(big_head));
		tg_baseline_release(&b);
	}
	free(big);
}

static void test_multiplicity(void **state)
{
	struct tg_baseline b = TG_BASELINE_INIT;
	struct tg_findings l = TG_FINDINGS_INIT;

	(void)state;
	/* two identical findings need two entries */
	parse_ok(&b, "aaaaaaaaaaaaaaaa TX001 a.py f s.commit()\n");
	add(&l, "aaaaaaaaaaaaaaaa", "a.py", "f", "s.commit()");
	add(&l, "aaaaaaaaaaaaaaaa", "a.py", "f", "s.commit()");
	assert_int_equal(tg_baseline_apply(&b, &l), 1);
	assert_int_equal(l.v[0].status, TG_STATUS_BASELINED);
	assert_int_equal(l.v[1].status, TG_STATUS_NEW);
	tg_baseline_release(&b);
	tg_findings_release(&l);

	/*
	 * Fixed one of two, added an identical one: occurrence indexes give
	 * fingerprints #0 and #1; the baseline had #0 and #1, the code now
	 * has #0 (old) and #1 (new): still two, nothing blocks. Fixed one
	 * and added one elsewhere: the new one's print is unknown, blocks.
	 */
	parse_ok(&b, "1111111111111110 TX001 a.py f s.commit()\n"
		     "1111111111111111 TX001 a.py f s.commit()\n");
	add(&l, "1111111111111110", "a.py", "f", "s.commit()");
	add(&l, "2222222222222222", "a.py", "g", "s.commit()");
	assert_int_equal(tg_baseline_apply(&b, &l), 1);
	assert_int_equal(l.v[0].status, TG_STATUS_BASELINED);
	assert_int_equal(l.v[1].status, TG_STATUS_NEW);
	assert_true(b.v[0].matched);
	assert_false(b.v[1].matched);

	/* apply again: flags are reset, the result is the same */
	l.v[0].status = TG_STATUS_NEW;
	assert_int_equal(tg_baseline_apply(&b, &l), 1);
	assert_false(b.v[1].matched);
	tg_baseline_release(&b);
	tg_findings_release(&l);
}

static void test_statuses(void **state)
{
	struct tg_baseline b = TG_BASELINE_INIT;
	struct tg_findings l = TG_FINDINGS_INIT;
	struct tg_buf out = TG_BUF_INIT;

	(void)state;
	parse_ok(&b, "0000000000000001 TX001 a.py f c\n"
		     "0000000000000002 TX001 a.py g c\n");
	add(&l, "0000000000000001", "a.py", "f", "c");
	l.v[0].status = TG_STATUS_PREEXISTING;
	add(&l, "0000000000000002", "a.py", "g", "c");
	l.v[1].status = TG_STATUS_SUPPRESSED;
	assert_int_equal(tg_baseline_apply(&b, &l), 0);
	assert_int_equal(l.v[0].status, TG_STATUS_PREEXISTING);
	assert_int_equal(l.v[1].status, TG_STATUS_SUPPRESSED);
	/* the pre-existing finding used its entry; the suppressed one did not */
	assert_true(b.v[0].matched);
	assert_false(b.v[1].matched);
	/* suppressed findings are not written */
	tg_baseline_format(&out, &l, "# x\n");
	assert_string_equal(out.ptr, "# x\n0000000000000001 TX001 a.py f c\n");
	tg_buf_release(&out);
	tg_baseline_release(&b);
	tg_findings_release(&l);
}

/*
 * What `git merge` with merge=union leaves when two branches insert at
 * the same place: both lines, ours first, out of order. It must parse,
 * match, and the next rewrite sorts it again.
 */
static void test_union_merged(void **state)
{
	struct tg_baseline b = TG_BASELINE_INIT;
	struct tg_findings l = TG_FINDINGS_INIT;
	struct tg_buf out = TG_BUF_INIT;

	(void)state;
	parse_ok(&b, "# h\n"
		     "1000000000000000 TX001 a.py f c\n"
		     "2500000000000000 TX001 c.py h c\n"
		     "2000000000000000 TX001 b.py g c\n"
		     "3000000000000000 TX001 a.py f c\n");
	add(&l, "3000000000000000", "a.py", "f", "c");
	add(&l, "2000000000000000", "b.py", "g", "c");
	add(&l, "2500000000000000", "c.py", "h", "c");
	add(&l, "1000000000000000", "a.py", "f", "c");
	assert_int_equal(tg_baseline_apply(&b, &l), 4);
	tg_baseline_format(&out, &l, b.comments.ptr);
	assert_string_equal(out.ptr, "# h\n"
				     "1000000000000000 TX001 a.py f c\n"
				     "2000000000000000 TX001 b.py g c\n"
				     "2500000000000000 TX001 c.py h c\n"
				     "3000000000000000 TX001 a.py f c\n");
	tg_buf_release(&out);
	tg_baseline_release(&b);
	tg_findings_release(&l);
}

static bool only_a_f(const char *path, const char *unit, void *payload)
{
	(*(int *)payload)++;
	return !strcmp(path, "a b.py") && !strcmp(unit, "f");
}

static void test_prunable(void **state)
{
	struct tg_baseline b = TG_BASELINE_INIT;
	struct tg_findings l = TG_FINDINGS_INIT;
	const struct tg_baseline_entry **v;
	size_t n;
	int calls = 0;

	(void)state;
	parse_ok(&b, "0000000000000001 TX001 \"a b.py\" f c\n"
		     "0000000000000002 TX001 \"a b.py\" f c\n"
		     "0000000000000003 TX001 \"a b.py\" g c\n"
		     "0000000000000004 TX001 z.py h c\n");
	add(&l, "0000000000000001", "a b.py", "f", "c");
	tg_baseline_apply(&b, &l);

	/* full scan: every unmatched entry */
	tg_baseline_prunable(&v, &n, &b, NULL, NULL);
	assert_int_equal(n, 3);
	assert_string_equal(v[0]->fingerprint, "0000000000000002");
	assert_string_equal(v[2]->fingerprint, "0000000000000004");
	free(v);

	/* check mode: only entries of analysed units */
	tg_baseline_prunable(&v, &n, &b, only_a_f, &calls);
	assert_int_equal(n, 1);
	assert_string_equal(v[0]->fingerprint, "0000000000000002");
	assert_int_equal(v[0]->line, 2);
	assert_int_equal(calls, 3);
	free(v);
	tg_baseline_release(&b);
	tg_findings_release(&l);
}

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	struct tg_buf b = TG_BUF_INIT;
	char chunk[4096];
	size_t n;

	assert_non_null(fp);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		tg_buf_add(&b, chunk, n);
	fclose(fp);
	return tg_buf_detach(&b, NULL);
}

static void test_write_file(void **state)
{
	const char *tmpdir = getenv("TMPDIR");
	char *dir = tg_xasprintf("%s/t-baseline.XXXXXX", tmpdir ? tmpdir : "/tmp");
	char *path, *tmp, *got;
	struct tg_findings l = TG_FINDINGS_INIT;
	struct tg_buf want = TG_BUF_INIT;
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = tg_xasprintf("%s/.txguard-baseline", dir);
	tmp = tg_xasprintf("%s.tmp.%ld", path, (long)getpid());
	add(&l, "0000000000000001", "a.py", "f", "s.commit()");

	assert_int_equal(tg_baseline_write_file(path, &l, NULL), 0);
	got = slurp(path);
	tg_baseline_format(&want, &l, NULL);
	assert_string_equal(got, want.ptr);
	free(got);
	assert_int_equal(access(tmp, F_OK), -1);

	/* the temp path is taken (a directory): error, old file intact */
	add(&l, "0000000000000002", "b.py", "g", "s.commit()");
	assert_int_equal(mkdir(tmp, 0700), 0);
	assert_int_equal(tg_baseline_write_file(path, &l, NULL), TG_EIO);
	assert_non_null(strstr(tg_error_last(), "cannot create"));
	got = slurp(path);
	assert_string_equal(got, want.ptr);
	free(got);
	assert_int_equal(rmdir(tmp), 0);

	/* the target is a non-empty directory: rename fails, temp removed */
	{
		char *d = tg_xasprintf("%s/sub", dir);
		char *inner = tg_xasprintf("%s/sub/x", dir);

		assert_int_equal(mkdir(d, 0700), 0);
		fp = fopen(inner, "w");
		assert_non_null(fp);
		fclose(fp);
		assert_int_equal(tg_baseline_write_file(d, &l, NULL), TG_EIO);
		free(tmp);
		tmp = tg_xasprintf("%s.tmp.%ld", d, (long)getpid());
		assert_int_equal(access(tmp, F_OK), -1);
		unlink(inner);
		rmdir(d);
		free(d);
		free(inner);
	}

	/* a missing directory: error */
	{
		char *p = tg_xasprintf("%s/missing/bl", dir);

		assert_int_equal(tg_baseline_write_file(p, &l, NULL), TG_EIO);
		free(p);
	}
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
	tg_buf_release(&want);
	tg_findings_release(&l);
	free(tmp);
	free(path);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_sorted),
		cmocka_unit_test(test_comments_kept),
		cmocka_unit_test(test_empty_and_crlf),
		cmocka_unit_test(test_odd_paths),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_multiplicity),
		cmocka_unit_test(test_statuses),
		cmocka_unit_test(test_union_merged),
		cmocka_unit_test(test_prunable),
		cmocka_unit_test(test_write_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
