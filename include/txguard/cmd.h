/**
 * cmd.h: the commands, their shared options and txguard's exit statuses.
 * Only main.c and cmd_*.c print errors.
 */
#ifndef TXGUARD_CMD_H
#define TXGUARD_CMD_H

#include "txguard/common.h"
#include "txguard/opt.h"
#include "txguard/out.h"
#include "txguard/rules.h"

enum tg_exit {
	TG_EXIT_OK = 0,      /* nothing new at or above fail-on */
	TG_EXIT_BLOCKED = 1, /* new blocking findings */
	TG_EXIT_ERROR = 2,   /* usage, configuration, repository, internal */
};

int cmd_check(int argc, const char **argv);
int cmd_explain(int argc, const char **argv);
int cmd_fix(int argc, const char **argv);
int cmd_index(int argc, const char **argv);
int cmd_scan(int argc, const char **argv);
int cmd_baseline(int argc, const char **argv);

/**
 * Print "txguard: <msg>" to stderr and, inside a hook, how to skip it
 * once ("SKIP=txguard git commit" under the pre-commit framework, which
 * sets PRE_COMMIT=1, or TXGUARD_HOOK=pre-commit; "git commit --no-verify"
 * under txguard's own hook, TXGUARD_HOOK=git; nothing by hand or in CI);
 * returns TG_EXIT_ERROR.
 */
int tg_cmd_error(const char *msg);
/**
 * The same for a usage error: the message, then "see 'txguard CMD
 * --help'" (`cmd` NULL: "txguard --help").
 */
int tg_cmd_usage_error(const char *cmd, const char *msg);

struct tg_owner_table;
struct tg_config;

/** Register the owners and factories named in the configuration. */
void tg_owners_from_config(struct tg_owner_table *o, const struct tg_config *cfg);

/** Options every reporting command takes. */
struct tg_common_opts {
	const char *format, *output, *fail_on, *color, *baseline;
	bool all, no_baseline, quiet;
};

#define TG_COMMON_OPTIONS(c)                                                  \
	{ "format", 0, TG_OPT_STRING, &(c).format, "FORMAT",                  \
	  "text (default), concise, json, sarif, github or gitlab" },                          \
	{ "output", 'o', TG_OPT_STRING, &(c).output, "FILE",                  \
	  "write the report to FILE instead of standard output" },            \
	{ "fail-on", 0, TG_OPT_STRING, &(c).fail_on, "LEVEL",                 \
	  "critical, high (default), medium, low or never" },                 \
	{ "all", 0, TG_OPT_FLAG, &(c).all, NULL,                              \
	  "also show findings that are not new" },                            \
	{ "no-baseline", 0, TG_OPT_FLAG, &(c).no_baseline, NULL,              \
	  "ignore the baseline file" },                                       \
	{ "baseline", 0, TG_OPT_STRING, &(c).baseline, "FILE",                \
	  "read the baseline from FILE instead of the repository" },          \
	{ "color", 0, TG_OPT_STRING, &(c).color, "WHEN",                      \
	  "auto (default; honours NO_COLOR), always or never" },              \
	{ "quiet", 'q', TG_OPT_FLAG, &(c).quiet, NULL,                        \
	  "print nothing when nothing is found" }

/**
 * Validate the common options into output options and a fail-on level
 * (-1 when not given on the command line). Errors: TG_EUSAGE.
 */
int tg_common_opts_resolve(struct tg_out_opts *out, int *fail_on,
			   const struct tg_common_opts *c);

enum tg_baseline_source {
	TG_BASELINE_FROM_INDEX,     /* staged mode: the baseline being committed */
	TG_BASELINE_FROM_HEAD,      /* branch mode */
	TG_BASELINE_FROM_HEAD_SCAN, /* scan: the work tree's file; every unmatched entry is prunable */
};

struct tg_report;
struct tg_repo;

/**
 * The current directory relative to the top of the work tree, with a
 * trailing '/' ("backend/"), or NULL at the top, outside it, or in a
 * bare repository. The caller frees it.
 */
char *tg_cmd_cwd_prefix(const struct tg_repo *repo);

/**
 * A path given on the command line, relative to the current directory
 * (`prefix`, from tg_cmd_cwd_prefix()), as a repository-relative path
 * without "." or ".." components ("" for the top). Errors: TG_EUSAGE for
 * an absolute path or one outside the repository.
 */
int tg_cmd_repo_path(char **out, const char *prefix, const char *arg);

/** Is `path` the repository-relative `prefix` or under it ("" is all)? */
bool tg_cmd_path_under(const char *path, const char *prefix);

struct tg_owner_table;
/**
 * Scan every selected Python file of the tree of `rev` (NULL: HEAD),
 * optionally only under the repository-relative `paths`, into `report`
 * with `threads` workers. With `require_match`, a path under which no
 * Python file was scanned is an error (TG_ENOTFOUND). Shared by scan,
 * baseline and check --files. Errors: TG_ENOTFOUND, TG_EGIT, TG_ERROR.
 */
int tg_scan_tree(struct tg_report *report, struct tg_repo *repo,
		 const struct tg_config *cfg, const struct tg_owner_table *owners,
		 const char *rev, const char *const *paths, size_t npaths,
		 unsigned threads, bool require_match);
/** One analysis thread per core (at most 64). */
unsigned tg_default_threads(void);

/**
 * The end every reporting command shares: apply the baseline, decide
 * fail-on (the command line's `fail_on`, or -1 for the configured one,
 * file classes included) and write the report. Returns TG_EXIT_OK or
 * TG_EXIT_BLOCKED, or a negative error with the message set.
 */
int tg_common_report(struct tg_report *r, struct tg_repo *repo,
		     const struct tg_config *cfg,
		     const struct tg_common_opts *c,
		     const struct tg_out_opts *o, int fail_on,
		     enum tg_baseline_source from);

#endif
