/**
 * fingerprint.h: line-independent identity of a finding.
 *
 * rule id, path, unit qualified name, the normalised call text, the owner
 * expression and the occurrence index among otherwise identical findings
 * in the unit, hashed to 16 hex digits. Moving code, reformatting around
 * it or editing other functions never changes it.
 */
#ifndef TXGUARD_FINGERPRINT_H
#define TXGUARD_FINGERPRINT_H

#include "txguard/common.h"

struct tg_findings;

/**
 * Normalise source text of a call: comments dropped, runs of whitespace
 * (newlines included) folded to nothing between tokens except where two
 * word characters would join, where one space is kept. Returns a fresh
 * string the caller frees.
 */
char *tg_fingerprint_normalize(const char *text, size_t len);

/**
 * Assign occurrence indexes and fingerprints to findings[from..nr).
 * Findings must already carry rule, path, unit, call_text and owner_text.
 * Occurrences are counted in source order within each unit.
 */
void tg_fingerprint_assign(struct tg_findings *list, size_t from);

#endif
