/*
 * Concise output: one line a finding, as ruff and compilers print them,
 *   path:line:col: TX001 message
 * (paths relative to the current directory and quoted as in the text
 * format), then the notices and the summary line.
 */
#include "txguard/common.h"
#include "txguard/buf.h"
#include "txguard/error.h"
#include "txguard/out.h"
#include "txguard/out_render.h"
#include "txguard/report.h"

/* path:line:col: RULE [status] message, one line a finding */
static void add_one(struct tg_buf *b, const struct tg_finding *f,
		    const struct tg_out_opts *opts, void *ctx)
{
	char *msg;

	(void)ctx;
	tg_out_add_shown_path(b, f->path, opts);
	tg_buf_addf(b, ":%u:%u: %s ", f->line, f->column, f->rule->id);
	if (f->status != TG_STATUS_NEW)
		tg_buf_addf(b, "[%s] ", tg_out_status_name(f->status));
	/* one line a finding, whatever the message holds */
	msg = tg_xstrdup(f->message ? f->message : f->rule->summary);
	for (char *m = msg; *m; m++)
		if (*m == '\n' || *m == '\r')
			*m = ' ';
	tg_out_add_text(b, msg);
	free(msg);
	tg_buf_addch(b, '\n');
}

int tg_out_concise(FILE *fp, const struct tg_report *r,
		   const struct tg_out_opts *opts)
{
	return tg_out_lines(fp, r, opts, add_one, NULL);
}
