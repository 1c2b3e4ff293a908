/*
 * GitHub Actions workflow-command output: one annotation a line,
 *   ::error file=PATH,line=L,col=C,endLine=E,endColumn=EC,title=RULE sev::MSG
 * then a plain summary line. Escaping follows the runner's parser (the
 * actions/toolkit escapeData/escapeProperty rules): in the message % CR LF
 * become %25 %0D %0A; in property values ':' and ',' also become %3A and
 * %2C, since they delimit the properties. The runner prints the file
 * name and the texts as they are: a path is quoted as git quotes one,
 * and control characters in texts are escaped, so none reaches a
 * terminal that shows the log.
 */
#include "txguard/common.h"
#include "txguard/buf.h"
#include "txguard/error.h"
#include "txguard/out.h"
#include "txguard/out_render.h"
#include "txguard/report.h"
#include "txguard/rules.h"

static void escape(struct tg_buf *b, const char *s, bool property)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '%': tg_buf_addstr(b, "%25"); break;
		case '\r': tg_buf_addstr(b, "%0D"); break;
		case '\n': tg_buf_addstr(b, "%0A"); break;
		case ':':
			if (property) {
				tg_buf_addstr(b, "%3A");
				break;
			}
			tg_buf_addch(b, ':');
			break;
		case ',':
			if (property) {
				tg_buf_addstr(b, "%2C");
				break;
			}
			tg_buf_addch(b, ',');
			break;
		default:
			tg_buf_addch(b, *s);
		}
	}
}

/*
 * Text with control characters escaped as elsewhere, but CR kept: the
 * workflow command encodes it (%0D), as it does LF.
 */
static void add_message(struct tg_buf *b, const char *s)
{
	const char *cr;

	while ((cr = strchr(s, '\r'))) {
		char *part = tg_xstrndup(s, (size_t)(cr - s));

		tg_out_add_text(b, part);
		tg_buf_addch(b, '\r');
		free(part);
		s = cr + 1;
	}
	tg_out_add_text(b, s);
}

static void annotation(struct tg_buf *b, const struct tg_finding *f,
		       const char *cmd)
{
	struct tg_buf title = TG_BUF_INIT, msg = TG_BUF_INIT, path = TG_BUF_INIT;

	tg_buf_addf(b, "::%s file=", cmd);
	tg_out_add_path(&path, f->path);
	escape(b, path.ptr, true);
	tg_buf_release(&path);
	if (f->line >= 1) {
		tg_buf_addf(b, ",line=%u", f->line);
		if (f->column >= 1)
			tg_buf_addf(b, ",col=%u", f->column);
		if (f->end_line >= f->line) {
			tg_buf_addf(b, ",endLine=%u", f->end_line);
			if (f->end_column >= 1)
				tg_buf_addf(b, ",endColumn=%u", f->end_column);
		}
	}
	tg_buf_addf(&title, "%s %s", f->rule->id, tg_severity_name(f->severity));
	if (f->status != TG_STATUS_NEW)
		tg_buf_addf(&title, " (%s)", tg_out_status_name(f->status));
	tg_buf_addstr(b, ",title=");
	escape(b, title.ptr, true);
	tg_buf_addstr(b, "::");
	add_message(&msg, f->message ? f->message : f->rule->summary);
	if (f->help && *f->help) {
		tg_buf_addstr(&msg, "\nhelp: ");
		add_message(&msg, f->help);
	}
	escape(b, msg.ptr, false);
	tg_buf_addch(b, '\n');
	tg_buf_release(&title);
	tg_buf_release(&msg);
}

int tg_out_github(FILE *fp, const struct tg_report *r,
		  const struct tg_out_opts *opts)
{
	struct tg_buf b = TG_BUF_INIT;
	int ret = 0;

	for (size_t i = 0; i < r->findings.nr; i++) {
		const struct tg_finding *f = &r->findings.v[i];
		const char *cmd;

		if (f->status == TG_STATUS_NEW)
			/* blocking findings are errors, the rest warnings */
			cmd = f->severity >= r->fail_on ? "error" : "warning";
		else if (opts->all)
			cmd = "notice";
		else
			continue;
		annotation(&b, f, cmd);
	}
	for (size_t i = 0; i < r->nnotices; i++) {
		struct tg_buf text = TG_BUF_INIT;

		tg_out_add_text(&text, r->notices[i]);
		tg_buf_addstr(&b, "::notice title=txguard::");
		escape(&b, text.ptr, false);
		tg_buf_addch(&b, '\n');
		tg_buf_release(&text);
	}
	tg_buf_addf(&b, "txguard: %zu new finding%s (%zu critical, %zu high, "
		    "%zu medium, %zu low), %zu pre-existing, %zu baselined, "
		    "%zu suppressed; %zu files, %zu units checked; %s\n",
		    r->nnew, r->nnew == 1 ? "" : "s",
		    r->new_by_sev[TG_SEV_CRITICAL], r->new_by_sev[TG_SEV_HIGH],
		    r->new_by_sev[TG_SEV_MEDIUM], r->new_by_sev[TG_SEV_LOW],
		    r->npreexisting, r->nbaselined, r->nsuppressed,
		    r->files_checked, r->units_checked,
		    r->blocked ? "blocked" : "not blocked");
	if (fwrite(b.ptr, 1, b.len, fp) != b.len || fflush(fp) == EOF)
		ret = tg_error_set(TG_EIO, "cannot write the GitHub annotations");
	tg_buf_release(&b);
	return ret;
}
