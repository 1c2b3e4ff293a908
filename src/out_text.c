/*
 * Text output: gcc-style location, the source line with a caret
 * under the call, the owner and a help line, then one summary line.
 */
#include "txguard/common.h"
#include "txguard/buf.h"
#include "txguard/error.h"
#include "txguard/out.h"
#include "txguard/out_render.h"
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

/*
 * A source line made safe for a terminal: control characters but tabs
 * (C1 ones too, both bytes) become '?', so the caret keeps its column.
 */
static void add_source(struct tg_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == 0xc2 && (unsigned char)s[1] >= 0x80 &&
		    (unsigned char)s[1] <= 0x9f) {
			tg_buf_addstr(b, "??");
			s++;
			continue;
		}
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
			const struct style *st, const struct tg_out_opts *opts)
{
	const char *sev = tg_severity_name(f->severity);
	const char *sev_color = f->severity >= TG_SEV_HIGH ? C_RED : C_YELLOW;
	char gutter[16];
	int gw;

	tg_buf_addstr(b, c(st, C_BOLD));
	tg_out_add_shown_path(b, f->path, opts);
	tg_buf_addf(b, ":%u:%u:%s %s%s%s %s%s%s%s ", f->line, f->column,
		    c(st, C_RESET), c(st, sev_color), sev, c(st, C_RESET),
		    c(st, C_BOLD), f->rule->id, c(st, C_RESET),
		    status_label(f->status));
	tg_out_add_text(b, f->message ? f->message : f->rule->summary);
	tg_buf_addch(b, '\n');

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
	if (f->owner) {
		tg_buf_addf(b, " %*s = %sowner:%s ", gw, "", c(st, C_BOLD),
			    c(st, C_RESET));
		tg_out_add_text(b, f->owner);
		tg_buf_addch(b, '\n');
	}
	if (f->help) {
		tg_buf_addf(b, " %*s = %shelp:%s ", gw, "", c(st, C_GREEN),
			    c(st, C_RESET));
		tg_out_add_text(b, f->help);
		tg_buf_addch(b, '\n');
	}
	tg_buf_addch(b, '\n');
}

static void add_one(struct tg_buf *b, const struct tg_finding *f,
		    const struct tg_out_opts *opts, void *ctx)
{
	add_finding(b, f, ctx, opts);
}

int tg_out_text(FILE *fp, const struct tg_report *r,
		const struct tg_out_opts *opts)
{
	struct style st = { opts->color };

	return tg_out_lines(fp, r, opts, add_one, &st);
}
