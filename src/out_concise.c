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

int tg_out_concise(FILE *fp, const struct tg_report *r,
		   const struct tg_out_opts *opts)
{
	struct tg_buf b = TG_BUF_INIT;
	size_t shown = 0;
	int ret = 0;

	for (size_t i = 0; i < r->findings.nr; i++) {
		const struct tg_finding *f = &r->findings.v[i];
		char *msg;

		if (f->status != TG_STATUS_NEW && !opts->all)
			continue;
		tg_out_add_shown_path(&b, f->path, opts);
		tg_buf_addf(&b, ":%u:%u: %s ", f->line, f->column, f->rule->id);
		if (f->status != TG_STATUS_NEW)
			tg_buf_addf(&b, "[%s] ", tg_out_status_name(f->status));
		/* one line a finding, whatever the message holds */
		msg = tg_xstrdup(f->message ? f->message : f->rule->summary);
		for (char *m = msg; *m; m++)
			if (*m == '\n' || *m == '\r')
				*m = ' ';
		tg_out_add_text(&b, msg);
		free(msg);
		tg_buf_addch(&b, '\n');
		shown++;
		if (b.len >= 64 * 1024 && tg_out_flush(fp, &b) < 0)
			ret = TG_EIO;
	}
	if (!(opts->quiet && !shown && !r->nnotices && !r->blocked))
		tg_out_add_summary(&b, r, opts);
	if (tg_out_flush(fp, &b) < 0)
		ret = TG_EIO;
	tg_buf_release(&b);
	return ret;
}
