/**
 * report.h: the result of one run, and the fail-on decision.
 *
 * The report owns its findings and notices. tg_report_finish() counts
 * findings by status and severity and decides `blocked`.
 */
#ifndef TXGUARD_REPORT_H
#define TXGUARD_REPORT_H

#include "txguard/common.h"
#include "txguard/diff.h"
#include "txguard/finding.h"

struct tg_report {
	struct tg_findings findings;
	char **notices; /* human-readable notices (skipped large file, ...) */
	size_t nnotices, alloc_notices;
	char *describe; /* what was compared, e.g. "index vs HEAD" */
	size_t files_checked;
	size_t units_checked;
	size_t partial_files; /* files with syntax errors, analysed in part */
	struct tg_skips skipped;
	/* filled by tg_report_finish() */
	size_t new_by_sev[TG_SEV_NEVER + 1];
	size_t nnew, npreexisting, nbaselined, nsuppressed;
	enum tg_severity fail_on;
	bool blocked;
};

#define TG_REPORT_INIT { 0 }

void tg_report_notice(struct tg_report *r, const char *fmt, ...) TG_PRINTF(2, 3);
void tg_report_finish(struct tg_report *r, enum tg_severity fail_on);
void tg_report_release(struct tg_report *r);

#endif
