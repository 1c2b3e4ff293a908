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

struct tg_config;

/** A unit the engine analysed (check mode keeps the list for the baseline). */
struct tg_unit_ref {
	char *path, *unit;
};

struct tg_report {
	struct tg_findings findings;
	struct tg_unit_ref *analysed; /* only when the engine is asked to */
	size_t nanalysed, alloc_analysed;
	char **notices; /* human-readable notices (skipped large file, ...) */
	size_t nnotices, alloc_notices;
	char *describe; /* what was compared, e.g. "index vs HEAD" */
	size_t files_checked;
	size_t units_checked;
	size_t partial_files; /* files with syntax errors, analysed in part */
	size_t incomplete_files; /* inference stopped at its bound */
	size_t prefiltered;   /* of files_checked: no word a rule needs, not parsed */
	struct tg_skips skipped;
	/* of the changed *.py files, those include/exclude did not select
	 * (counted here, not in skipped.not_python) */
	size_t not_selected;
	/* filled by tg_report_finish() */
	size_t new_by_sev[TG_SEV_NEVER + 1];
	size_t nnew, npreexisting, nbaselined, nsuppressed;
	enum tg_severity fail_on;
	bool blocked;
	/* set before tg_report_finish(): where fail_on came from ("--fail-on",
	 * ".txguard:3", ...), for the verdict; NULL: the default */
	const char *fail_on_origin;
	/* filled by tg_report_finish(): a file class that kept a new finding
	 * from blocking (the first one met), or NULL */
	const struct tg_file_class *lenient_class;
	/* set before tg_report_finish(): file classes' own fail-on */
	const struct tg_config *cfg;
	/*
	 * a scan limited to these repository-relative prefixes (borrowed;
	 * "" is the whole tree): baseline entries of other files are not
	 * prunable
	 */
	const char *const *scan_paths;
	size_t nscan_paths;
};

#define TG_REPORT_INIT { 0 }

void tg_report_notice(struct tg_report *r, const char *fmt, ...) TG_PRINTF(2, 3);
void tg_report_add_unit(struct tg_report *r, const char *path, const char *unit);
/** Was `unit` of `path` analysed (tg_report_add_unit)? */
bool tg_report_has_unit(const struct tg_report *r, const char *path,
			const char *unit);
void tg_report_finish(struct tg_report *r, enum tg_severity fail_on);
void tg_report_release(struct tg_report *r);

#endif
