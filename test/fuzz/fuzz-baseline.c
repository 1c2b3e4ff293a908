/*
 * fuzz-baseline: arbitrary bytes as `.txguard-baseline`.
 * Parsing either succeeds with well-formed entries or fails with
 * TG_EPARSE and a "NAME:LINE: ..." message; never a crash. What parses
 * is then written back (tg_baseline_format) and must parse again to the
 * same entries, every field must round-trip through tg_baseline_quote,
 * and matching by count must add up.
 */
#include "txguard/common.h"
#include "txguard/baseline.h"
#include "txguard/buf.h"
#include "txguard/error.h"
#include "txguard/finding.h"
#include "txguard/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char NAME[] = ".txguard-baseline";

static void check(bool ok, const char *what)
{
	if (!ok)
		BUG("fuzz-baseline invariant broken: %s", what);
}

static void check_entry(const struct tg_baseline_entry *e)
{
	struct tg_buf line = TG_BUF_INIT;
	struct tg_baseline again = TG_BASELINE_INIT;

	check(strlen(e->fingerprint) == TG_FINGERPRINT_HEXSZ,
	      "16-digit fingerprint");
	for (size_t i = 0; i < TG_FINGERPRINT_HEXSZ; i++)
		check(e->fingerprint[i] && strchr("0123456789abcdef",
						  e->fingerprint[i]),
		      "lowercase hex fingerprint");
	check(e->rule && *e->rule && e->path && e->unit && e->call_text,
	      "fields are set");
	for (const char *p = e->rule; *p; p++)
		check((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			      (*p >= '0' && *p <= '9') || *p == '_' ||
			      *p == '-',
		      "rule is letters, digits, '_' and '-'");
	/* every byte string round-trips through the quoting */
	tg_buf_addf(&line, "%s %s ", e->fingerprint, e->rule);
	tg_baseline_quote(&line, e->path);
	tg_buf_addch(&line, ' ');
	tg_baseline_quote(&line, e->unit);
	tg_buf_addch(&line, ' ');
	tg_baseline_quote(&line, e->call_text);
	tg_buf_addch(&line, '\n');
	if (tg_baseline_parse(&again, NAME, line.ptr, line.len) < 0)
		BUG("a quoted entry does not parse: %s", tg_error_last());
	check(again.nr == 1, "one line, one entry");
	check(!strcmp(again.v[0].fingerprint, e->fingerprint) &&
		      !strcmp(again.v[0].rule, e->rule) &&
		      !strcmp(again.v[0].path, e->path) &&
		      !strcmp(again.v[0].unit, e->unit) &&
		      !strcmp(again.v[0].call_text, e->call_text),
	      "fields round-trip through tg_baseline_quote");
	tg_baseline_release(&again);
	tg_buf_release(&line);
}

/* Findings made from every other entry, to match and to write back. */
static void findings_from(struct tg_findings *list,
			  const struct tg_baseline *b)
{
	const struct tg_rule *rule = tg_rules_lookup("TX001");

	for (size_t i = 0; i < b->nr; i += 2) {
		struct tg_finding *f = tg_findings_add(list);

		f->rule = rule;
		f->severity = rule->severity;
		memcpy(f->fingerprint, b->v[i].fingerprint,
		       sizeof(f->fingerprint));
		f->path = tg_xstrdup(b->v[i].path);
		f->unit = tg_xstrdup(b->v[i].unit);
		f->call_text = tg_xstrdup(b->v[i].call_text);
		f->message = tg_xstrdup("m");
		f->help = tg_xstrdup("h");
		f->owner_text = tg_xstrdup("");
		f->line = f->column = f->end_line = f->end_column = 1;
		f->status = TG_STATUS_NEW;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tg_baseline b = TG_BASELINE_INIT, again = TG_BASELINE_INIT;
	struct tg_findings list = TG_FINDINGS_INIT;
	struct tg_buf out = TG_BUF_INIT;
	const struct tg_baseline_entry **prunable = NULL;
	size_t nprunable = 0, baselined, matched = 0;
	int err;

	err = tg_baseline_parse(&b, NAME, (const char *)data, size);
	if (err < 0) {
		check(err == TG_EPARSE, "a bad baseline is TG_EPARSE");
		check(!strncmp(tg_error_last(), NAME, sizeof(NAME) - 1) &&
			      tg_error_last()[sizeof(NAME) - 1] == ':',
		      "the message starts with NAME:");
		check(b.nr == 0, "a failed parse leaves the baseline empty");
		goto out;
	}
	check(err == 0, "success is 0");
	for (size_t i = 0; i < b.nr; i++) {
		check(b.v[i].line >= 1 && (i == 0 || b.v[i].line > b.v[i - 1].line),
		      "entries keep file order with their lines");
		if (i < 256) /* each round trip parses: bound the cost */
			check_entry(&b.v[i]);
	}

	findings_from(&list, &b);
	baselined = tg_baseline_apply(&b, &list);
	check(baselined == list.nr, "each finding matches its own entry");
	for (size_t i = 0; i < b.nr; i++)
		matched += b.v[i].matched;
	check(matched == baselined, "one entry consumed per match");
	tg_baseline_prunable(&prunable, &nprunable, &b, NULL, NULL);
	check(nprunable == b.nr - matched, "the rest is prunable");

	/* written back, it parses again to as many entries */
	tg_baseline_format(&out, &list, b.comments.ptr);
	if (tg_baseline_parse(&again, NAME, out.ptr, out.len) < 0)
		BUG("a formatted baseline does not parse: %s",
		    tg_error_last());
	check(again.nr == list.nr, "format writes one line per finding");
out:
	free(prunable);
	tg_buf_release(&out);
	tg_findings_release(&list);
	tg_baseline_release(&again);
	tg_baseline_release(&b);
	tg_error_clear();
	return 0;
}
