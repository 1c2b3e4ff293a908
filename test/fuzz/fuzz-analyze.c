/*
 * fuzz-analyze: arbitrary bytes as Python through the analysis of one
 * blob: parse, units, rules, fingerprints, then the whole
 * per-file pipeline with a pre-image and both output writers; with
 * FZ_INFER the inference of both blobs too (records that must decode,
 * a resolver the analysis asks: the pre-image plays app/db.py).
 *
 * Input layout (like cmark's fuzzer, the first bytes choose options):
 *   byte 0   option bits (see enum below)
 *   byte 1   first line of the hunk, when FZ_HUNK is set
 *   byte 2   rule switches (bit i: rule i off) and the hunk length
 *   rest     the new blob, then optionally SEP and the pre-image blob
 * Shorter inputs are taken whole as the new blob with no options.
 */
#include "txguard/common.h"
#include "txguard/analyze.h"
#include "txguard/diff.h"
#include "txguard/engine.h"
#include "txguard/error.h"
#include "txguard/finding.h"
#include "txguard/fingerprint.h"
#include "txguard/buf.h"
#include "txguard/infer.h"
#include "txguard/resolver.h"
#include "txguard/out.h"
#include "txguard/owner_table.h"
#include "txguard/pyparse.h"
#include "txguard/report.h"
#include "txguard/rules.h"
#include "txguard/units.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	FZ_ALL_UNITS = 1 << 0, /* TG_ANALYZE_ALL_UNITS */
	FZ_OWNERS = 1 << 1,    /* configured owners and factories */
	FZ_MARK_ALL = 1 << 2,  /* else mark every other unit changed */
	FZ_RULES = 1 << 3,     /* use the rule switches of byte 2 */
	FZ_HUNK = 1 << 4,      /* engine: one hunk from bytes 1-2, else whole */
	FZ_JSON = 1 << 5,      /* engine output: json, else text */
	FZ_ODD_PATH = 1 << 6,  /* a path that needs escaping in the output */
	FZ_INFER = 1 << 7,     /* owners inferred: both blobs in a resolver */
};

#define HEADER 3
/* Chosen to be valid Python (a comment) so seeds stay parseable. */
static const char SEP[] = "\n#@old@\n";

static const char *const odd_paths[] = {
	"app/with space.py",
	"app/quo\"te's.py",
	"app/new\nline.py",
	"-dash/\xff\xfe.py",
	"app/\xc3\xa9t\xc3\xa9.py",
};

static void check(bool ok, const char *what)
{
	if (!ok)
		BUG("fuzz-analyze invariant broken: %s", what);
}

static void check_finding(const struct tg_finding *f,
			  const struct tg_pyfile *py,
			  const struct tg_units *units)
{
	size_t len;
	char *norm;

	check(f->rule && f->rule->id, "finding has a rule");
	check(f->path && f->unit && f->message && f->call_text,
	      "finding strings are set");
	check(f->line >= 1 && f->line <= py->nlines, "line inside the file");
	check(f->end_line >= f->line, "end_line after line");
	check(f->column >= 1, "1-based column");
	check(strlen(f->fingerprint) == TG_FINGERPRINT_HEXSZ,
	      "fingerprint has 16 hex digits");
	for (size_t i = 0; i < TG_FINGERPRINT_HEXSZ; i++)
		check(strchr("0123456789abcdef", f->fingerprint[i]) &&
			      f->fingerprint[i],
		      "fingerprint is lowercase hex");
	check(tg_units_find(units, f->unit) >= 0, "unit of a finding exists");
	check(tg_pyfile_line(py, f->line, &len) != NULL, "line is readable");
	/* normalising twice changes nothing (a stable identity) */
	norm = tg_fingerprint_normalize(f->call_text, strlen(f->call_text));
	check(norm != NULL, "normalize returns a string");
	free(norm);
}

/* Infer `src` as `path` into r; a record we made must always decode. */
static void infer_into(struct tg_resolver *r, const char *path,
		       const char *src, size_t len)
{
	struct tg_buf rec = TG_BUF_INIT;
	struct tg_inferred *inf = NULL;

	tg_infer_blob(&rec, NULL, path, src, len);
	if (tg_inferred_decode(&inf, path, rec.ptr, rec.len) < 0)
		BUG("a record infer.c made does not decode: %s",
		    tg_error_last());
	tg_inferred_free(inf);
	tg_resolver_add(r, path, rec.ptr, rec.len, true);
	tg_buf_release(&rec);
}

static void analyze_blob(const char *src, size_t len, unsigned flags,
			 const bool *rules, const struct tg_owner_table *owners,
			 struct tg_resolver *resolver)
{
	struct tg_pyfile *py = NULL;
	struct tg_units units = TG_UNITS_INIT;
	struct tg_findings found = TG_FINDINGS_INIT;
	struct tg_analyze_opts opts = { 0 };
	int err;

	err = tg_pyfile_parse(&py, "app/fuzz.py", src, len);
	if (err == TG_EBINARY) {
		check(memchr(src, 0, len) != NULL, "binary means a NUL byte");
		return;
	}
	if (err == TG_ETOODEEP)
		return; /* a safety bound, reported as a skip by the engine */
	check(err == 0, "parse never fails on text");
	check(py->len == len && py->src[len] == '\0', "pyfile keeps the bytes");
	check(py->nlines >= 1, "a file has at least one line");
	if (tg_units_load(&units, py) < 0)
		BUG("tg_units_load failed: %s", tg_error_last());
	check(units.nr >= 1 && units.v[0].parent == -1, "module unit first");
	if (flags & FZ_MARK_ALL)
		tg_units_mark_all(&units);
	else
		for (size_t i = 0; i < units.nr; i += 2)
			units.v[i].changed = true;
	for (uint32_t line = 1; line <= py->nlines && line < 4096; line++) {
		size_t u = tg_units_at_line(&units, line);

		check(u < units.nr, "unit at line is in range");
		check(!u || (units.v[u].start_line <= line &&
			     line <= units.v[u].end_line),
		      "unit at line contains it");
	}
	opts.owners = owners;
	opts.resolver = resolver;
	opts.flags = flags & FZ_ALL_UNITS ? TG_ANALYZE_ALL_UNITS : 0;
	opts.rule_enabled = flags & FZ_RULES ? rules : NULL;
	if (tg_analyze(&found, py, &units, &opts) < 0)
		BUG("tg_analyze failed: %s", tg_error_last());
	/* tg_analyze assigns them; assigning again must be harmless */
	tg_fingerprint_assign(&found, 0);
	/* the first findings only: tg_units_find is linear (huge inputs) */
	for (size_t i = 0; i < found.nr && i < 64; i++)
		check_finding(&found.v[i], py, &units);
	tg_findings_sort(&found);
	tg_findings_release(&found);
	tg_units_release(&units);
	tg_pyfile_free(py);
}

static void run_engine(const char *path, const char *src, size_t len,
		       const char *old, size_t old_len, unsigned flags,
		       const uint8_t *hdr, const struct tg_owner_table *owners,
		       struct tg_resolver *resolver)
{
	static FILE *devnull;
	struct tg_report report = TG_REPORT_INIT;
	struct tg_engine_opts opts = { 0 };
	struct tg_out_opts out = { 0 };
	struct tg_hunk hunk = { 0 };
	int err;

	if (!devnull && !(devnull = fopen("/dev/null", "w")))
		BUG("cannot open /dev/null");
	opts.owners = owners;
	opts.resolver = resolver;
	hunk.old_start = hunk.new_start = hdr[1];
	hunk.old_lines = hdr[2] & 3;
	hunk.new_lines = hdr[2] >> 4;
	err = tg_engine_run_buffers(&report, path, src, len, old, old_len,
				    flags & FZ_HUNK ? &hunk : NULL,
				    flags & FZ_HUNK ? 1 : 0, &opts);
	if (err < 0)
		BUG("tg_engine_run_buffers failed: %s", tg_error_last());
	tg_report_finish(&report, TG_SEV_HIGH);
	check(report.nnew + report.npreexisting + report.nbaselined +
			      report.nsuppressed ==
		      report.findings.nr,
	      "every finding has one status");
	for (size_t i = 0; i < report.findings.nr; i++)
		check(report.findings.v[i].status != TG_STATUS_BASELINED,
		      "no baseline here: nothing is baselined");
	out.format = flags & FZ_JSON ? TG_FORMAT_JSON : TG_FORMAT_TEXT;
	out.all = true;
	if (tg_out_write(devnull, &report, &out) < 0)
		BUG("writing to /dev/null failed: %s", tg_error_last());
	tg_report_release(&report);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t no_header[HEADER];
	struct tg_owner_table owners = TG_OWNER_TABLE_INIT;
	const uint8_t *hdr = no_header;
	bool rules[8];
	size_t nrules;
	const char *src, *old = NULL, *sep;
	size_t len, old_len = 0;
	const char *path = "app/fuzz.py";
	struct tg_resolver *resolver = NULL;
	unsigned flags = 0;

	if (size >= HEADER) {
		hdr = data;
		flags = hdr[0];
		data += HEADER;
		size -= HEADER;
	}
	tg_rules_all(&nrules);
	for (size_t i = 0; i < TG_ARRAY_SIZE(rules); i++)
		rules[i] = i >= nrules || !(hdr[2] & (1u << (i % 8)));
	if (nrules > TG_ARRAY_SIZE(rules))
		flags &= ~FZ_RULES; /* the switches would be too short */
	if (flags & FZ_ODD_PATH)
		path = odd_paths[hdr[1] % TG_ARRAY_SIZE(odd_paths)];
	if (flags & FZ_OWNERS) {
		tg_owner_table_add_owner(&owners, "get_background_session",
				    TG_OWNER_CONFIGURED, ".txguard",
				    "commits on exit");
		tg_owner_table_add_owner(&owners, "db.get_session",
				    TG_OWNER_CONFIGURED, ".txguard", NULL);
		tg_owner_table_add_factory(&owners, "SessionLocal",
				      TG_OWNER_CONFIGURED, ".txguard");
		tg_owner_table_add_factory(&owners, "async_session_factory",
				      TG_OWNER_CONFIGURED, NULL);
	}

	src = (const char *)data;
	len = size;
	sep = memmem(src, len, SEP, sizeof(SEP) - 1);
	if (sep) {
		old = sep + sizeof(SEP) - 1;
		old_len = len - (size_t)(old - src);
		len = (size_t)(sep - src);
	}

	if (flags & FZ_INFER) {
		resolver = tg_resolver_new();
		if (old)
			infer_into(resolver, "app/db.py", old, old_len);
		infer_into(resolver, "app/fuzz.py", src, len);
	}
	analyze_blob(src, len, flags, rules, flags & FZ_OWNERS ? &owners : NULL,
		     resolver);
	run_engine(path, src, len, old, old_len, flags, hdr,
		   flags & FZ_OWNERS ? &owners : NULL, resolver);
	tg_resolver_free(resolver);
	tg_owner_table_release(&owners);
	tg_error_clear();
	return 0;
}
