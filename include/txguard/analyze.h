/**
 * analyze.h: run the rules over the changed units of one parsed file.
 *
 * The walk is iterative (a TSTreeCursor with an explicit scope stack), so
 * any nesting depth is safe. Each finding it adds carries rule, severity,
 * path, unit, position, message, help, owner, call_text and owner_text;
 * fingerprints are assigned afterwards (fingerprint.h).
 */
#ifndef TXGUARD_ANALYZE_H
#define TXGUARD_ANALYZE_H

#include "txguard/common.h"

struct tg_pyfile;
struct tg_units;
struct tg_owner_table;
struct tg_findings;
struct tg_resolver;

enum tg_analyze_flags {
	TG_ANALYZE_ALL_UNITS = 1 << 0, /* ignore unit->changed */
};

struct tg_analyze_opts {
	const struct tg_owner_table *owners; /* configured and inferred; may be NULL */
	unsigned flags;
	/* per-rule enable switches, indexed like tg_rules_all(); NULL = all on */
	const bool *rule_enabled;
	/*
	 * Inferred owners, dependencies, aliases and factories (infer.h),
	 * asked with py->path as the file; may be NULL (configured names
	 * and SQLAlchemy's own only). Every analysed file must have been
	 * added to it first, so its imports are known.
	 */
	struct tg_resolver *resolver;
};

/**
 * Append to `out` the findings of every changed unit of `py` (every unit
 * with TG_ANALYZE_ALL_UNITS), in source order, with fingerprints assigned.
 * Never fails on odd input; returns 0, or TG_ERROR on an internal error.
 */
int tg_analyze(struct tg_findings *out, const struct tg_pyfile *py,
	       const struct tg_units *units, const struct tg_analyze_opts *opts);

/**
 * Whether the analysis has an implementation for rule `id` (a rule in
 * the table may still be documented only). Suppression notices use it:
 * a directive for a rule that never runs cannot be "unused".
 */
bool tg_analyze_implements(const char *id);

#endif
