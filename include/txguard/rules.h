/**
 * rules.h: the rule table. Rule ids are data: look a rule up by
 * id, never through a per-rule global.
 */
#ifndef TXGUARD_RULES_H
#define TXGUARD_RULES_H

#include "txguard/common.h"

enum tg_severity {
	TG_SEV_LOW = 1,
	TG_SEV_MEDIUM = 2,
	TG_SEV_HIGH = 3,
	TG_SEV_CRITICAL = 4,
	TG_SEV_NEVER = 5, /* as a fail-on level: nothing blocks */
};

struct tg_rule {
	const char *id;   /* "TX001" */
	const char *name; /* "double-transaction" */
	enum tg_severity severity;
	const char *summary;  /* one line */
	const char *explain;  /* what, why, wrong/right, fix, suppress */
};

/** The rule with this id (case-insensitive), or NULL. */
const struct tg_rule *tg_rules_lookup(const char *id);
/** All rules, in id order; *n receives the count. */
const struct tg_rule *tg_rules_all(size_t *n);

const char *tg_severity_name(enum tg_severity s);
/** Parse "critical", "high", "medium", "low" or "never". -1 if none. */
int tg_severity_parse(const char *s);

#endif
