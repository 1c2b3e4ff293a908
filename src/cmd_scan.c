/*
 * txguard scan: every Python file of a tree (default HEAD), every unit,
 * through the same engine as check; uses the cores on large trees
 * (SPEC §2).
 */
#include "txguard/common.h"
#include "txguard/cmd.h"
#include "txguard/config.h"
#include "txguard/diff.h"
#include "txguard/engine.h"
#include "txguard/error.h"
#include "txguard/inferstate.h"
#include "txguard/owners.h"
#include "txguard/repo.h"
#include "txguard/report.h"

#include <unistd.h>

static const char usage_line[] = "txguard scan [--rev REV] [OPTIONS] [PATH...]";
static const char description[] =
	"Check every Python file of the tree of REV (default HEAD), or only\n"
	"those under the PATHs given, and report every finding. Exit 1 when a\n"
	"finding at or above the fail-on level is neither baselined nor\n"
	"suppressed.";

/* the scan's files, streamed from the tree (engine.h) */
static int iter_next(void *ctx, struct tg_change *ch)
{
	return tg_tree_iter_next(ctx, ch);
}

int tg_scan_tree(struct tg_report *report, struct tg_repo *repo,
		 const struct tg_config *cfg, const struct tg_owners *owners,
		 const char *rev, const char *const *paths, size_t npaths,
		 unsigned threads)
{
	struct tg_tree_iter *it = NULL;
	struct tg_engine_opts eopts = { 0 };
	struct tg_inferstate st;
	int err;

	tg_inferstate_init(&st);
	st.max_file_size = cfg->max_file_size;
	if ((err = tg_tree_iter_new(&it, repo, rev ? rev : "HEAD", paths,
				    npaths, &cfg->files)) < 0 ||
	    (err = tg_inferstate_scan(&st, repo, rev ? rev : "HEAD")) < 0)
		goto out;
	eopts.resolver = st.now;
	eopts.infer = &st;
	eopts.words = st.words;
	eopts.nwords = st.nwords;
	eopts.cfg = cfg;
	eopts.owners = owners;
	eopts.threads = threads;
	eopts.prefilter = true;
	err = tg_engine_run_source(report, repo, iter_next, it, &eopts);
	if (err >= 0)
		tg_tree_iter_report(it, &report->skipped, &report->describe);
out:
	tg_tree_iter_free(it);
	tg_inferstate_release(&st);
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
	struct tg_owners owners = TG_OWNERS_INIT;
	struct tg_report report = TG_REPORT_INIT;
	const char **args = NULL;
	int nargs, fail_on, ret = TG_EXIT_ERROR;
	long nthreads;

	tg_config_init(&cfg);
	if (tg_opt_parse(&args, &nargs, argc, argv, opts,
			 TG_ARRAY_SIZE(opts)) < 0 ||
	    tg_common_opts_resolve(&oopts, &fail_on, &copts) < 0) {
		ret = tg_die_usage("scan --help", tg_error_last());
		goto out;
	}
	if (copts.help) {
		tg_opt_usage(stdout, usage_line, description, opts,
			     TG_ARRAY_SIZE(opts));
		ret = TG_EXIT_OK;
		goto out;
	}
	nthreads = tg_default_threads();
	if (jobs) {
		char *end;

		nthreads = strtol(jobs, &end, 10);
		if (*end || nthreads < 1 || nthreads > 256) {
			ret = tg_die_usage("scan --help",
					   "--jobs needs a number from 1 to 256");
			goto out;
		}
	}

	if (tg_repo_open(&repo, NULL) < 0 || tg_config_load(&cfg, repo) < 0)
		goto fail;
	tg_owners_from_config(&owners, &cfg);
	if (tg_scan_tree(&report, repo, &cfg, &owners, rev, args,
			 (size_t)nargs, (unsigned)nthreads) < 0 ||
	    (ret = tg_common_report(&report, repo, &cfg, &copts, &oopts,
				    fail_on, TG_BASELINE_FROM_HEAD_SCAN)) < 0)
		goto fail;
	goto out;
fail:
	ret = tg_die_with_hint(tg_error_last());
out:
	free(args);
	tg_report_release(&report);
	tg_owners_release(&owners);
	tg_config_release(&cfg);
	tg_repo_free(repo);
	return ret;
}
