#include "txguard/common.h"
#include "txguard/config.h"
#include "txguard/report.h"

#include <stdarg.h>

void tg_report_notice(struct tg_report *r, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = tg_xvasprintf(fmt, ap);
	va_end(ap);
	TG_ALLOC_GROW(r->notices, r->nnotices + 1, r->alloc_notices);
	r->notices[r->nnotices++] = msg;
}

void tg_report_add_unit(struct tg_report *r, const char *path, const char *unit)
{
	TG_ALLOC_GROW(r->analysed, r->nanalysed + 1, r->alloc_analysed);
	r->analysed[r->nanalysed].path = tg_xstrdup(path);
	r->analysed[r->nanalysed].unit = tg_xstrdup(unit);
	r->nanalysed++;
}

bool tg_report_has_unit(const struct tg_report *r, const char *path,
			const char *unit)
{
	/* a check touches few units: a linear search is enough */
	for (size_t i = 0; i < r->nanalysed; i++)
		if (!strcmp(r->analysed[i].unit, unit) &&
		    !strcmp(r->analysed[i].path, path))
			return true;
	return false;
}

void tg_report_finish(struct tg_report *r, enum tg_severity fail_on)
{
	memset(r->new_by_sev, 0, sizeof(r->new_by_sev));
	r->nnew = r->npreexisting = r->nbaselined = r->nsuppressed = 0;
	r->fail_on = fail_on;
	r->blocked = false;
	r->lenient_class = NULL;
	tg_findings_sort(&r->findings);
	for (size_t i = 0; i < r->findings.nr; i++) {
		const struct tg_finding *f = &r->findings.v[i];
		enum tg_severity f_on;

		switch (f->status) {
		case TG_STATUS_NEW:
			r->nnew++;
			r->new_by_sev[f->severity]++;
			/* only new findings at or above fail-on block */
			f_on = tg_config_fail_on_for(r->cfg, f->path, fail_on);
			if (f_on != TG_SEV_NEVER && f->severity >= f_on)
				r->blocked = true;
			else if (!r->lenient_class && fail_on != TG_SEV_NEVER &&
				 f->severity >= fail_on)
				r->lenient_class =
					tg_config_class_for(r->cfg, f->path);
			break;
		case TG_STATUS_PREEXISTING:
			r->npreexisting++;
			break;
		case TG_STATUS_BASELINED:
			r->nbaselined++;
			break;
		case TG_STATUS_SUPPRESSED:
			r->nsuppressed++;
			break;
		}
	}
}

void tg_report_release(struct tg_report *r)
{
	tg_findings_release(&r->findings);
	for (size_t i = 0; i < r->nnotices; i++)
		free(r->notices[i]);
	free(r->notices);
	for (size_t i = 0; i < r->nanalysed; i++) {
		free(r->analysed[i].path);
		free(r->analysed[i].unit);
	}
	free(r->analysed);
	free(r->describe);
	memset(r, 0, sizeof(*r));
}
