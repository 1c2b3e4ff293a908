/**
 * config.h: `.txguard` at the repository root, read with libgit2's config
 * parser, layered under `git config` (repository, then global).
 *
 * The main section's keys are fixed; an unknown key (with the known key
 * it resembles), a bad value, or a single-valued key given twice in one
 * file is an error naming the file and line. Multi-valued keys (include,
 * exclude, owner, factory) accumulate across layers; single-valued ones
 * take the highest layer's value.
 */
#ifndef TXGUARD_CONFIG_H
#define TXGUARD_CONFIG_H

#include "txguard/common.h"
#include "txguard/glob.h"
#include "txguard/rules.h"

struct tg_repo;

#define TG_RULE_SLOTS 16

/**
 * A file class: files matching `paths` get their own fail-on.
 * The built-in class "test" (paths under tests, test_*.py, conftest.py;
 * failOn = never)
 * reports findings in tests without blocking; configuring any `path` of
 * a class replaces its built-in paths.
 */
struct tg_file_class {
	char *name;
	char **paths;
	size_t npaths, alloc_paths;
	bool paths_configured;
	enum tg_severity fail_on;
};

struct tg_config {
	enum tg_severity fail_on; /* default TG_SEV_HIGH */
	char *baseline;           /* default ".txguard-baseline" */
	struct tg_glob_set files; /* include / exclude */
	char **owners;
	size_t nowners, alloc_owners;
	char **factories;
	size_t nfactories, alloc_factories;
	size_t max_file_size; /* default 8 MiB */
	bool fail_on_set;     /* failOn came from a config layer */
	char *fail_on_origin; /* where: ".txguard:3", "git config (FILE:LINE)" */
	char *notice;         /* said once in the report (an ignored table), or NULL */
	const char *file;     /* where the project's configuration is: ".txguard" or "pyproject.toml" */
	/* [txguard "rule.ID"] severity: 0 default, -1 off, else a severity */
	int rule_severity[TG_RULE_SLOTS];
	struct tg_file_class *classes;
	size_t nclasses, alloc_classes;
};

void tg_config_init(struct tg_config *cfg);
void tg_config_release(struct tg_config *cfg);

/**
 * Load `.txguard` from the working tree's root (missing file: the one in
 * the index, else defaults), or, when there is none, the [tool.txguard]
 * table of pyproject.toml (the same keys; subsections are the tables
 * [tool.txguard.rule.ID] and [tool.txguard.class.NAME]); then the
 * txguard.* keys of git config on top. With both files, `.txguard` is
 * read and cfg->notice says pyproject.toml's table is ignored.
 * Errors: TG_EPARSE with "file:line: ..." in the message, TG_EGIT.
 */
int tg_config_load(struct tg_config *cfg, struct tg_repo *repo);

/**
 * Apply the [tool.txguard] table of pyproject.toml text (`name` for
 * messages), for tests and the fuzzer. Errors as tg_config_load().
 */
int tg_config_load_pyproject_text(struct tg_config *cfg, const char *name,
				  const char *text, size_t len);

/**
 * Load one config file by path only (no git config layers), for tests and
 * the fuzzer. Errors as tg_config_load().
 */
int tg_config_load_file(struct tg_config *cfg, const char *path);

/**
 * The severity `rule` has under this configuration, or -1 when it is
 * turned off ([txguard "rule.TX003"] severity = off).
 */
int tg_config_rule_severity(const struct tg_config *cfg,
			    const struct tg_rule *rule);

/**
 * The fail-on level for a finding in `path`: the first file class whose
 * paths match, else `global` (the command line's --fail-on, or failOn).
 */
enum tg_severity tg_config_fail_on_for(const struct tg_config *cfg,
				       const char *path,
				       enum tg_severity global);

/** The first file class whose paths match `path`, or NULL. */
const struct tg_file_class *tg_config_class_for(const struct tg_config *cfg,
						const char *path);

/** Parse "8m", "512k", "1g", "1000". -1 on a bad value. */
int tg_config_parse_size(size_t *out, const char *s);

#endif
