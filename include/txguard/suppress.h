/**
 * suppress.h: inline suppressions.
 *
 * Directives are read from tree-sitter `comment` nodes only, never from
 * text inside strings or docstrings:
 *
 *   # txguard: ignore[TX001]         one rule
 *   # txguard: ignore[TX001, TX002]  several
 *   # txguard: ignore                every rule
 *   # noqa: TX001                    ruff/flake8 spelling, codes required
 *
 * A bare `# noqa` (no codes) does NOT suppress txguard findings: linters
 * put it on lines for unrelated reasons (line length, unused imports),
 * and a critical finding must not vanish because of one. Codes in a noqa
 * list that are not txguard rules (E501) are ignored.
 *
 * A directive covers a finding when it is on any line of the statement
 * holding the offending call (a call split over lines is one statement:
 * the statement's first to last line), or on the `def` header line(s) of
 * the finding's unit or of a function enclosing it (the whole function).
 */
#ifndef TXGUARD_SUPPRESS_H
#define TXGUARD_SUPPRESS_H

#include "txguard/common.h"

struct tg_findings;
struct tg_pyfile;
struct tg_units;

/** A directive that suppressed nothing (a notice, never a block). */
struct tg_suppression {
	char *path;     /* owned */
	uint32_t line;  /* 1-based line of the comment */
	char *text;     /* the directive as written, e.g. "txguard: ignore[TX002]" */
};

struct tg_suppressions {
	struct tg_suppression *v;
	size_t nr, alloc;
};

#define TG_SUPPRESSIONS_INIT { 0 }

/**
 * Set TG_STATUS_SUPPRESSED on every finding of list[from..nr) (all found
 * in `py`) that a directive covers. If `unused` is not NULL, append to it
 * the directives in units marked changed that covered no finding, leaving
 * out those naming only rules the analysis does not implement yet
 * (tg_analyze_implements). Returns the number of findings suppressed;
 * never fails.
 */
int tg_suppress_apply(struct tg_findings *list, size_t from,
		      const struct tg_pyfile *py, const struct tg_units *units,
		      struct tg_suppressions *unused);

void tg_suppressions_release(struct tg_suppressions *s);

#endif
