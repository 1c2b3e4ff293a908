/**
 * baseline.h: the `.txguard-baseline` file, on byte buffers.
 *
 * No git here: the caller reads the file (from the index, HEAD or disk)
 * and hands the bytes over, so the parser can be fuzzed and unit-tested
 * without a repository.
 *
 * Format, one record a line, LF (a CR before the LF is tolerated):
 *
 *   # comment lines, kept
 *   <fingerprint> <RULE> <path> <unit> <call>
 *
 * - fingerprint: exactly TG_FINGERPRINT_HEXSZ lowercase hex digits. It is
 *   the only field matched; the others are for humans and for naming
 *   prunable entries.
 * - RULE: letters, digits, '_' and '-'.
 * - path, unit, call: a field made only of printable ASCII other than
 *   '"' and '\' is written bare; any other field (empty, or holding a
 *   space, quote, backslash, control byte or byte >= 0x80) is written
 *   in double quotes with C escapes (\" \\ \t \n \r and \ooo octal for
 *   every other byte below 0x20, 0x7f and every byte >= 0x80), as git's
 *   quotePath does. Every byte string round-trips.
 * - Fields are separated by one space. No line numbers, timestamps, SHAs
 *   or counters: two branches that add entries touch only their lines.
 * - Lines are sorted in byte order; identical findings in one unit are
 *   distinct lines because the occurrence index is in the fingerprint.
 *
 * Comments: `#` lines anywhere and blank lines are accepted. On rewrite
 * every comment line is kept verbatim, in file order, at the top (they
 * cannot keep a position among sorted entries); blank lines between
 * entries are dropped. A file without comments gets the default header,
 * which recommends `.txguard-baseline merge=union` in .gitattributes.
 */
#ifndef TXGUARD_BASELINE_H
#define TXGUARD_BASELINE_H

#include "txguard/common.h"
#include "txguard/buf.h"
#include "txguard/finding.h"

/* Longest accepted line, so a hostile file fails cleanly and early. */
#define TG_BASELINE_MAX_LINE (1024 * 1024)

struct tg_baseline_entry {
	char fingerprint[TG_FINGERPRINT_HEXSZ + 1];
	char *rule;      /* owned */
	char *path;      /* owned, unescaped bytes */
	char *unit;      /* owned, unescaped */
	char *call_text; /* owned, unescaped */
	size_t line;     /* 1-based line in the baseline file */
	bool matched;    /* set by tg_baseline_apply() */
};

struct tg_baseline {
	char *name; /* for messages, owned; NULL before parsing */
	struct tg_baseline_entry *v;
	size_t nr, alloc;
	/* every comment line with its LF, in file order; "" if none */
	struct tg_buf comments;
};

#define TG_BASELINE_INIT { NULL, NULL, 0, 0, TG_BUF_INIT }

/** The header written into a baseline that has no comments yet. */
extern const char tg_baseline_default_header[];

/**
 * Parse `len` bytes of `buf` into `out` (initialised with
 * TG_BASELINE_INIT or released). `name` is used in messages. An empty
 * buffer is an empty baseline. A malformed line, a NUL byte or a line
 * longer than TG_BASELINE_MAX_LINE returns TG_EPARSE with the message
 * "NAME:LINE: ..."; `out` is then left empty.
 */
int tg_baseline_parse(struct tg_baseline *out, const char *name,
		      const char *buf, size_t len);

void tg_baseline_release(struct tg_baseline *b);

/**
 * Serialise `list` as a baseline into `out` (appended): `comments` (each
 * line verbatim; NULL or "" gives tg_baseline_default_header), then one
 * line per finding whose status is not TG_STATUS_SUPPRESSED (an inline
 * suppression already covers those), sorted in byte order. Deterministic:
 * the same findings give the same bytes in any order.
 */
void tg_baseline_format(struct tg_buf *out, const struct tg_findings *list,
			const char *comments);

/**
 * Write tg_baseline_format()'s output to `path` atomically: into
 * "<path>.tmp.<pid>" in the same directory, fsync, rename over `path`.
 * On any failure the temporary file is removed, `path` is left as it
 * was, and TG_EIO is returned.
 */
int tg_baseline_write_file(const char *path, const struct tg_findings *list,
			   const char *comments);

/**
 * Match `list` against `b` by fingerprint with multiplicity: each entry
 * matches at most one finding, in list order. Findings of status
 * TG_STATUS_NEW that match become TG_STATUS_BASELINED; pre-existing
 * findings also consume their entry (so it is not prunable) but keep
 * their status; suppressed findings neither match nor consume. Resets
 * and then sets every entry's `matched`. Returns the number of findings
 * that became baselined.
 */
size_t tg_baseline_apply(struct tg_baseline *b, struct tg_findings *list);

/**
 * Was the unit `unit` of `path` analysed in this run? Only entries of
 * analysed units can be called prunable: in check mode an entry of an
 * unchanged unit matched nothing because nothing looked at it.
 */
typedef bool (*tg_baseline_scope_fn)(const char *path, const char *unit,
				     void *payload);

/**
 * The entries left unmatched by tg_baseline_apply() that are in scope:
 * `in_scope` NULL means a full scan (every unmatched entry is prunable).
 * *out receives an array of pointers into `b` (caller frees the array,
 * not the entries), *nr its length. Entries keep file order.
 */
void tg_baseline_prunable(const struct tg_baseline_entry ***out, size_t *nr,
			  const struct tg_baseline *b,
			  tg_baseline_scope_fn in_scope, void *payload);

/** Append `s` to `out` as a baseline field (bare or quoted, see above). */
void tg_baseline_quote(struct tg_buf *out, const char *s);

#endif
