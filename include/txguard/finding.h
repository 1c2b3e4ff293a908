/**
 * finding.h: findings and the list that owns them.
 *
 * A tg_finding copies every string it keeps, so it outlives the file it
 * was found in. tg_findings owns its findings.
 */
#ifndef TXGUARD_FINDING_H
#define TXGUARD_FINDING_H

#include "txguard/common.h"
#include "txguard/rules.h"

enum tg_status {
	TG_STATUS_NEW,
	TG_STATUS_PREEXISTING,
	TG_STATUS_BASELINED,
	TG_STATUS_SUPPRESSED,
};

#define TG_FINGERPRINT_HEXSZ 16

/* What owns the transaction a TX001 call is in, for `txguard fix`. */
enum tg_fix_owner {
	TG_FIX_OWNER_NONE = 0, /* not recorded: nothing can be proven */
	TG_FIX_OWNER_BEGIN, /* X.begin(): commits on exit, rolls back on error
			     */
	TG_FIX_OWNER_SAVEPOINT, /* X.begin_nested() */
	TG_FIX_OWNER_MANAGER,	/* a configured or inferred owner */
	TG_FIX_OWNER_REQUEST, /* a dependency that commits after the endpoint */
};

struct tg_finding {
	const struct tg_rule *rule;
	enum tg_severity severity; /* the rule's, or as configured */
	char *path;                /* owned */
	char *unit;                /* qualified name, owned */
	uint32_t line, column;     /* 1-based; column counts bytes */
	uint32_t end_line, end_column;
	char *message;    /* owned */
	char *help;       /* owned */
	char *owner;      /* "get_background_session (configured in .txguard)", or NULL */
	char *call_text;  /* normalised offending call ("session.commit()"), owned */
	char *owner_text; /* normalised owner expression, owned, may be "" */
	unsigned occurrence; /* among otherwise identical findings in the unit */
	char fingerprint[TG_FINGERPRINT_HEXSZ + 1];
	enum tg_status status;
	char *snippet;    /* the source line of `line`, owned, for text output; may be NULL */
	/* TX001: the owner and the first byte of its block's body */
	enum tg_fix_owner fix_owner;
	uint32_t fix_body_start;
};

struct tg_findings {
	struct tg_finding *v;
	size_t nr, alloc;
};

#define TG_FINDINGS_INIT { 0 }

/** Append a zeroed finding and return it (valid until the next append). */
struct tg_finding *tg_findings_add(struct tg_findings *list);
/** Move every finding of `from` to the end of `to`; `from` is left empty. */
void tg_findings_move(struct tg_findings *to, struct tg_findings *from);
/** Sort by path, line, column, rule. */
void tg_findings_sort(struct tg_findings *list);
void tg_finding_release(struct tg_finding *f);
void tg_findings_release(struct tg_findings *list);

/**
 * Mark as TG_STATUS_PREEXISTING every finding of `cur` whose fingerprint
 * matches one of `old`, by count: each old finding matches at most once.
 */
void tg_findings_match_preimage(struct tg_findings *cur,
				const struct tg_findings *old);

#endif
