/*
 * txguard scan: every Python file of a tree (default HEAD), every unit,
 * through the same engine as check; uses the cores on large trees.
 * PATHs are relative to the current directory, as git's and ruff's.
 */
#include "txguard/common.h"
#include "txguard/cmd.h"
#include "txguard/config.h"
#include "txguard/diff.h"
#include "txguard/engine.h"
#include "txguard/error.h"
#include "txguard/ownerscope.h"
#include "txguard/owner_table.h"
#include "txguard/repo.h"
#include "txguard/tree_iter.h"
#include "txguard/report.h"

#include <unistd.h>

static const struct tg_opt_command usage = {
	"txguard scan [--rev REV] [OPTIONS] [PATH...]",
	"Check every Python file of the tree of REV (default HEAD), or only\n"
	"those under the PATHs given, and report every finding. Exit 1 when a\n"
	"finding at or above the fail-on level is neither baselined nor\n"
	"suppressed.",
	-1,
};

/* The scan's files, streamed from the tree, noting which PATHs matched. */
struct scan_source {
	struct tg_tree_iter *it;
	const char *const *paths;
	size_t npaths;
	bool *hit;
};

static int iter_next(void *ctx, struct tg_change *ch)
{
	struct scan_source *src = ctx;
	int ret = tg_tree_iter_next(src->it, ch);

	for (size_t i = 0; ret == 1 && i < src->npaths; i++)
		if (!src->hit[i] && tg_cmd_path_under(ch->path, src->paths[i]))
			src->hit[i] = true;
	return ret;
}

int tg_scan_tree(struct tg_report *report, struct tg_repo *repo,
		 const struct tg_config *cfg, const struct tg_owner_table *owners,
		 const char *rev, const char *const *paths, size_t npaths,
		 unsigned threads, bool require_match)
{
	struct tg_tree_iter *it = NULL;
	struct tg_engine_opts eopts = { 0 };
	struct tg_ownerscope st;
	struct scan_source src = { NULL, paths, npaths, NULL };
	int err;

	src.hit = tg_xcalloc(npaths ? npaths : 1, sizeof(*src.hit));
	tg_ownerscope_init(&st);
	st.max_file_size = cfg->max_file_size;
	if ((err = tg_tree_iter_new(&it, repo, rev ? rev : "HEAD", paths,
				    npaths, &cfg->files)) < 0 ||
	    (err = tg_ownerscope_scan(&st, repo, rev ? rev : "HEAD")) < 0)
		goto out;
	eopts.resolver = st.now;
	eopts.infer = &st;
	eopts.words = st.words;
	eopts.nwords = st.nwords;
	eopts.cfg = cfg;
	eopts.owners = owners;
	eopts.threads = threads;
	eopts.prefilter = true;
	src.it = it;
	err = tg_engine_run_source(report, repo, iter_next, &src, &eopts);
	if (err >= 0)
		tg_tree_iter_report(it, &report->skipped, &report->describe);
	for (size_t i = 0; err >= 0 && require_match && i < npaths; i++)
		if (!src.hit[i])
			err = tg_error_set(TG_ENOTFOUND,
					   "'%s' matches no Python file of the tree of %s (paths are relative to the current directory)",
					   *paths[i] ? paths[i] : ".",
					   rev ? rev : "HEAD");
out:
	free(src.hit);
	tg_tree_iter_free(it);
	tg_ownerscope_release(&st);
	return err;
}

unsigned tg_default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
}

int cmd_scan(int argc, const char **argv)
{
	struct tg_common_opts copts = { 0 };
	const char *rev = NULL, *jobs = NULL;
	const struct tg_option opts[] = {
		{ "rev", 0, TG_OPT_STRING, &rev, "REV",
		  "the tree to scan (default HEAD)" },
		{ "jobs", 'j', TG_OPT_STRING, &jobs, "N",
		  "analysis threads (default: one per core)" },
		TG_COMMON_OPTIONS(copts),
	};
	struct tg_out_opts oopts;
	struct tg_repo *repo = NULL;
	struct tg_config cfg;
	struct tg_owner_table owners = TG_OWNER_TABLE_INIT;
	struct tg_report report = TG_REPORT_INIT;
	const char **args = NULL;
	char **paths = NULL, *prefix = NULL;
	int nargs = 0, fail_on, err, ret = TG_EXIT_ERROR;
	long nthreads;

	tg_config_init(&cfg);
	if ((err = tg_opt_parse(&args, &nargs, argc, argv, opts,
				TG_ARRAY_SIZE(opts), &usage)) == TG_OPT_HELP) {
		ret = TG_EXIT_OK;
		goto out;
	}
	if (err < 0 || tg_common_opts_resolve(&oopts, &fail_on, &copts) < 0) {
		ret = tg_cmd_usage_error("scan", tg_error_last());
		goto out;
	}
	nthreads = tg_default_threads();
	if (jobs) {
		char *end;

		nthreads = strtol(jobs, &end, 10);
		if (*end || nthreads < 1 || nthreads > 256) {
			ret = tg_cmd_usage_error("scan",
						 "--jobs needs a number from 1 to 256");
			goto out;
		}
	}

	if (tg_repo_open(&repo, NULL) < 0 || tg_config_load(&cfg, repo) < 0)
		goto fail;
	/* PATHs as git and ruff take them: from the current directory */
	prefix = tg_cmd_cwd_prefix(repo);
	paths = tg_xcalloc((size_t)nargs + 1, sizeof(*paths));
	for (int i = 0; i < nargs; i++) {
		const char *wd = tg_repo_workdir(repo), *a = args[i];
		bool inside = wd && !strncmp(a, wd, strlen(wd));

		if ((inside && tg_cmd_repo_path(&paths[i], NULL,
						a + strlen(wd)) < 0) ||
		    (!inside && tg_cmd_repo_path(&paths[i], prefix, a) < 0)) {
			ret = tg_cmd_usage_error("scan", tg_error_last());
			goto out;
		}
	}
	report.scan_paths = (const char *const *)paths;
	report.nscan_paths = (size_t)nargs;
	tg_owners_from_config(&owners, &cfg);
	if (tg_scan_tree(&report, repo, &cfg, &owners, rev,
			 (const char *const *)paths, (size_t)nargs,
			 (unsigned)nthreads, true) < 0 ||
	    (ret = tg_common_report(&report, repo, &cfg, &copts, &oopts,
				    fail_on, TG_BASELINE_FROM_HEAD_SCAN)) < 0)
		goto fail;
	goto out;
fail:
	ret = tg_cmd_error(tg_error_last());
out:
	for (int i = 0; paths && i < nargs; i++)
		free(paths[i]);
	free(paths);
	free(prefix);
	free(args);
	tg_report_release(&report);
	tg_owner_table_release(&owners);
	tg_config_release(&cfg);
	tg_repo_free(repo);
	return ret;
}
