/*
 * Text output (SPEC §9): gcc-style location, the source line with a caret
 * under the call, the owner and a help line, then one summary line.
 */
#include "txguard/common.h"
#include "txguard/buf.h"
#include "txguard/error.h"
#include "txguard/out.h"
#include "txguard/report.h"

#define C_RESET "\033[0m"
#define C_BOLD "\033[1m"
#define C_RED "\033[1;31m"
#define C_YELLOW "\033[1;33m"
#define C_CYAN "\033[36m"
#define C_GREEN "\033[1;32m"

struct style {
	bool on;
};

static const char *c(const struct style *st, const char *code)
{
	return st->on ? code : "";
}

static bool valid_utf8(const unsigned char *s)
{
	while (*s) {
		int n = *s < 0x80 ? 0 : (*s & 0xe0) == 0xc0 ? 1 :
			(*s & 0xf0) == 0xe0 ? 2 : (*s & 0xf8) == 0xf0 ? 3 : -1;

		if (n < 0)
			return false;
		s++;
		while (n--) {
			if ((*s & 0xc0) != 0x80)
				return false;
			s++;
		}
	}
	return true;
}

/*
 * A path as git prints it: unchanged when plain, otherwise in double
 * quotes with C escapes for control characters, quotes, backslashes and
 * (when not valid UTF-8) high bytes, so a file name can never forge an
 * output line (SPEC §9).
 */
static void add_path(struct tg_buf *b, const char *path)
{
	const unsigned char *p = (const unsigned char *)path;
	bool utf8 = valid_utf8(p), quote = false;

	for (const unsigned char *q = p; *q; q++)
		if (*q < 0x20 || *q == 0x7f || *q == '"' || *q == '\\' ||
		    (*q >= 0x80 && !utf8))
			quote = true;
	if (!quote) {
		tg_buf_addstr(b, path);
		return;
	}
	tg_buf_addch(b, '"');
	for (; *p; p++) {
		switch (*p) {
		case '"': tg_buf_addstr(b, "\\\""); break;
		case '\\': tg_buf_addstr(b, "\\\\"); break;
		case '\n': tg_buf_addstr(b, "\\n"); break;
		case '\t': tg_buf_addstr(b, "\\t"); break;
		case '\r': tg_buf_addstr(b, "\\r"); break;
		default:
			if (*p < 0x20 || *p == 0x7f || (*p >= 0x80 && !utf8))
				tg_buf_addf(b, "\\%03o", *p);
			else
				tg_buf_addch(b, *p);
		}
	}
	tg_buf_addch(b, '"');
}

/* A source line made safe for a terminal: control characters but tabs become '?'. */
static void add_source(struct tg_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		tg_buf_addch(b, (ch < 0x20 && ch != '\t') || ch == 0x7f ? '?' : ch);
	}
}

static const char *status_label(enum tg_status s)
{
	switch (s) {
	case TG_STATUS_NEW: return "";
	case TG_STATUS_PREEXISTING: return " [pre-existing]";
	case TG_STATUS_BASELINED: return " [baselined]";
	case TG_STATUS_SUPPRESSED: return " [suppressed]";
	}
	return "";
}

static void add_finding(struct tg_buf *b, const struct tg_finding *f,
			const struct style *st)
{
	const char *sev = tg_severity_name(f->severity);
	const char *sev_color = f->severity >= TG_SEV_HIGH ? C_RED : C_YELLOW;
	char gutter[16];
	int gw;

	tg_buf_addstr(b, c(st, C_BOLD));
	add_path(b, f->path);
	tg_buf_addf(b, ":%u:%u:%s %s%s%s %s%s%s%s %s\n", f->line, f->column,
		    c(st, C_RESET), c(st, sev_color), sev, c(st, C_RESET),
		    c(st, C_BOLD), f->rule->id, c(st, C_RESET),
		    status_label(f->status),
		    f->message ? f->message : f->rule->summary);

	gw = snprintf(gutter, sizeof(gutter), "%u", f->line);
	if (f->snippet) {
		const char *s = f->snippet;
		size_t col = f->column ? f->column - 1 : 0;
		size_t slen = strlen(s), width;

		tg_buf_addf(b, " %s%*u |%s ", c(st, C_CYAN), gw, f->line,
			    c(st, C_RESET));
		add_source(b, s);
		tg_buf_addf(b, "\n %s%*s |%s ", c(st, C_CYAN), gw, "",
			    c(st, C_RESET));
		if (col > slen)
			col = slen;
		for (size_t i = 0; i < col; i++)
			tg_buf_addch(b, s[i] == '\t' ? '\t' : ' ');
		if (f->end_line == f->line && f->end_column > f->column)
			width = f->end_column - f->column;
		else
			width = slen - col;
		if (!width)
			width = 1;
		if (col + width > slen && slen > col)
			width = slen - col;
		tg_buf_addstr(b, c(st, sev_color));
		tg_buf_addch(b, '^');
		for (size_t i = 1; i < width; i++)
			tg_buf_addch(b, '~');
		tg_buf_addf(b, "%s\n", c(st, C_RESET));
	}
	if (f->owner)
		tg_buf_addf(b, " %*s = %sowner:%s %s\n", gw, "", c(st, C_BOLD),
			    c(st, C_RESET), f->owner);
	if (f->help)
		tg_buf_addf(b, " %*s = %shelp:%s %s\n", gw, "", c(st, C_GREEN),
			    c(st, C_RESET), f->help);
	tg_buf_addch(b, '\n');
}

static void add_counts(struct tg_buf *b, const struct tg_report *r)
{
	static const enum tg_severity order[] = {
		TG_SEV_CRITICAL, TG_SEV_HIGH, TG_SEV_MEDIUM, TG_SEV_LOW,
	};
	bool first = true;

	tg_buf_addf(b, "%zu new finding%s", r->nnew, r->nnew == 1 ? "" : "s");
	if (!r->nnew)
		return;
	tg_buf_addstr(b, " (");
	for (size_t i = 0; i < TG_ARRAY_SIZE(order); i++) {
		if (!r->new_by_sev[order[i]])
			continue;
		tg_buf_addf(b, "%s%zu %s", first ? "" : ", ",
			    r->new_by_sev[order[i]],
			    tg_severity_name(order[i]));
		first = false;
	}
	tg_buf_addch(b, ')');
}

static void add_skips(struct tg_buf *b, const struct tg_skips *s)
{
	const struct {
		size_t n;
		const char *what;
	} kinds[] = {
		{ s->deleted, "deleted" },     { s->submodule, "submodule" },
		{ s->symlink, "symlink" },     { s->binary, "binary" },
		{ s->too_large, "too large" }, { s->not_python, "not Python" },
		{ s->too_complex, "too deeply nested or slow to parse" },
	};
	size_t total = 0;
	bool first = true;

	for (size_t i = 0; i < TG_ARRAY_SIZE(kinds); i++)
		total += kinds[i].n;
	tg_buf_addf(b, "; %zu file%s skipped", total, total == 1 ? "" : "s");
	if (!total)
		return;
	tg_buf_addstr(b, " (");
	for (size_t i = 0; i < TG_ARRAY_SIZE(kinds); i++) {
		if (!kinds[i].n)
			continue;
		tg_buf_addf(b, "%s%zu %s", first ? "" : ", ", kinds[i].n,
			    kinds[i].what);
		first = false;
	}
	tg_buf_addch(b, ')');
}

/* Write what `b` holds; the text of many findings is never held whole. */
static int flush(FILE *fp, struct tg_buf *b)
{
	int ret = 0;

	if (b->len && fwrite(b->ptr, 1, b->len, fp) != b->len)
		ret = TG_EIO;
	tg_buf_reset(b);
	return ret;
}

int tg_out_text(FILE *fp, const struct tg_report *r,
		const struct tg_out_opts *opts)
{
	struct tg_buf b = TG_BUF_INIT;
	struct style st = { opts->color };
	size_t shown = 0;
	int ret = 0;

	for (size_t i = 0; i < r->findings.nr; i++) {
		const struct tg_finding *f = &r->findings.v[i];

		if (f->status != TG_STATUS_NEW && !opts->all)
			continue;
		add_finding(&b, f, &st);
		shown++;
		if (b.len >= 64 * 1024 && flush(fp, &b) < 0)
			ret = TG_EIO;
	}
	for (size_t i = 0; i < r->nnotices; i++)
		tg_buf_addf(&b, "txguard: notice: %s\n", r->notices[i]);
	if (opts->quiet && !shown && !r->nnotices && !r->blocked)
		goto out;

	tg_buf_addstr(&b, "txguard: ");
	add_counts(&b, r);
	tg_buf_addf(&b, "; %zu pre-existing, %zu baselined, %zu suppressed",
		    r->npreexisting, r->nbaselined, r->nsuppressed);
	tg_buf_addf(&b, "; %zu changed unit%s checked in %zu file%s",
		    r->units_checked, r->units_checked == 1 ? "" : "s",
		    r->files_checked, r->files_checked == 1 ? "" : "s");
	if (r->prefiltered)
		tg_buf_addf(&b, " (%zu without a word any rule needs, not parsed)",
			    r->prefiltered);
	if (r->describe)
		tg_buf_addf(&b, " (%s)", r->describe);
	if (r->partial_files)
		tg_buf_addf(&b, "; %zu partially parsed", r->partial_files);
	if (r->incomplete_files)
		tg_buf_addf(&b, "; %zu not fully analysed",
			    r->incomplete_files);
	add_skips(&b, &r->skipped);
	if (r->blocked)
		tg_buf_addf(&b, " - %s%s%s (fail-on: %s)\n", c(&st, C_RED),
			    opts->staged ? "commit blocked" : "blocked",
			    c(&st, C_RESET), tg_severity_name(r->fail_on));
	else
		tg_buf_addf(&b, " - %s%s%s\n", c(&st, C_GREEN),
			    opts->staged ? "commit allowed" : "passed",
			    c(&st, C_RESET));
	if (r->blocked && opts->staged)
		tg_buf_addstr(&b,
			      "txguard: fix the findings above, suppress one with '# txguard: ignore[RULE]',\n"
			      "         or run 'git commit --no-verify' to skip the hook once\n");
out:
	if (flush(fp, &b) < 0)
		ret = TG_EIO;
	tg_buf_release(&b);
	return ret;
}
