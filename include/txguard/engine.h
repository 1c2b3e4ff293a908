/**
 * engine.h: the per-file pipeline, wired once for every mode:
 *
 *   blob → parse → units (changed) → rules → fingerprints
 *        → pre-image match (old or rename-source blob) → report
 *
 * One file at a time, so memory follows the largest file, not the change.
 */
#ifndef TXGUARD_ENGINE_H
#define TXGUARD_ENGINE_H

#include "txguard/common.h"

struct tg_repo;
struct tg_changeset;
struct tg_config;
struct tg_owner_table;
struct tg_report;
struct tg_resolver;
struct tg_ownerscope;

struct tg_engine_opts {
	const struct tg_config *cfg;
	const struct tg_owner_table *owners;
	unsigned threads; /* 0 or 1: run in the calling thread */
	bool record_units; /* list analysed units in the report (baseline scope) */
	/*
	 * Whole-file mode (scan): skip parsing files whose bytes cannot
	 * produce a finding (literal pre-filter).
	 */
	bool prefilter;
	/*
	 * The repository's own owners, dependencies, aliases and factories
	 * (infer.h) as of the new side, and the state they come from,
	 * which gives the pre-image's (the changed files' old records
	 * swapped in: a call site only becomes a finding when its owner
	 * became one). Both may be NULL; without `infer` the
	 * pre-image uses `resolver` too.
	 */
	struct tg_resolver *resolver;
	struct tg_ownerscope *infer;
	/* extra pre-filter words: the names of those definitions */
	char *const *words;
	size_t nwords;
};

/**
 * Run the pipeline over `cs`, appending findings and counts to `report`.
 * Errors: TG_EGIT (a blob could not be read), TG_ERROR.
 */
int tg_engine_run(struct tg_report *report, struct tg_repo *repo,
		  const struct tg_changeset *cs,
		  const struct tg_engine_opts *opts);

/**
 * The same over changes given one at a time: `next` returns 1 and fills
 * *ch (paths borrowed until its next call; hunks valid until the run
 * ends), 0 at the end, or an error, which ends the run with it. Nothing
 * is listed, so memory does not follow the number of files (scan).
 */
struct tg_change;
typedef int (*tg_engine_next_fn)(void *ctx, struct tg_change *ch);
int tg_engine_run_source(struct tg_report *report, struct tg_repo *repo,
			 tg_engine_next_fn next, void *ctx,
			 const struct tg_engine_opts *opts);

/**
 * The same pipeline for one file in memory, for tests and the fuzzer:
 * `old` may be NULL (an added file); hunks NULL means every unit changed.
 */
struct tg_hunk;
int tg_engine_run_buffers(struct tg_report *report, const char *path,
			  const char *src, size_t len, const char *old,
			  size_t old_len, const struct tg_hunk *hunks,
			  size_t nhunks, const struct tg_engine_opts *opts);

#endif
