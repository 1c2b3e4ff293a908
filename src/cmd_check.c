/*
 * txguard check: staged mode (the index git will commit against HEAD, what
 * the hook runs) or branch mode (--base REV [--head REV]). Builds the
 * changeset, hands it to the engine, prints the report (SPEC §2, §3).
 */
#include "txguard/common.h"
#include "txguard/cmd.h"
#include "txguard/config.h"
#include "txguard/diff.h"
#include "txguard/engine.h"
#include "txguard/error.h"
#include "txguard/owners.h"
#include "txguard/repo.h"
#include "txguard/report.h"

static const char usage_line[] =
	"txguard check [--base REV [--head REV]] [OPTIONS]";
static const char description[] =
	"Check what is being committed (the index against HEAD; the empty tree\n"
	"on the first commit), or with --base the branch merge-base(REV, HEAD)..HEAD.\n"
	"Only the functions the change touches are analysed; only new findings\n"
	"at or above the fail-on level block.";

int cmd_check(int argc, const char **argv)
{
	struct tg_common_opts copts = { 0 };
	const char *base = NULL, *head = NULL;
	const struct tg_option opts[] = {
		{ "base", 0, TG_OPT_STRING, &base, "REV",
		  "branch mode: check merge-base(REV, HEAD)..HEAD" },
		{ "head", 0, TG_OPT_STRING, &head, "REV",
		  "with --base: the branch tip (default HEAD)" },
		TG_COMMON_OPTIONS(copts),
	};
	struct tg_out_opts oopts;
	struct tg_repo *repo = NULL;
	struct tg_config cfg;
	struct tg_owners owners = TG_OWNERS_INIT;
	struct tg_changeset cs = TG_CHANGESET_INIT;
	struct tg_report report = TG_REPORT_INIT;
	struct tg_engine_opts eopts = { 0 };
	const char **args = NULL;
	int nargs, fail_on, ret = TG_EXIT_ERROR;

	tg_config_init(&cfg);
	if (tg_opt_parse(&args, &nargs, argc, argv, opts,
			 TG_ARRAY_SIZE(opts)) < 0 ||
	    tg_common_opts_resolve(&oopts, &fail_on, &copts) < 0) {
		ret = tg_die_usage("check --help", tg_error_last());
		goto out;
	}
	if (copts.help) {
		tg_opt_usage(stdout, usage_line, description, opts,
			     TG_ARRAY_SIZE(opts));
		ret = TG_EXIT_OK;
		goto out;
	}
	if (nargs) {
		char msg[256];

		snprintf(msg, sizeof(msg), "unexpected argument '%s'", args[0]);
		ret = tg_die_usage("check --help", msg);
		goto out;
	}
	if (head && !base) {
		ret = tg_die_usage("check --help", "--head needs --base");
		goto out;
	}
	oopts.staged = !base;

	if (tg_repo_open(&repo, NULL) < 0 || tg_config_load(&cfg, repo) < 0)
		goto fail;
	tg_owners_from_config(&owners, &cfg);
	if (base) {
		if (tg_changeset_branch(&cs, repo, base, head ? head : "HEAD",
					&cfg.files) < 0)
			goto fail;
	} else if (tg_changeset_staged(&cs, repo, &cfg.files) < 0) {
		goto fail;
	}

	eopts.cfg = &cfg;
	eopts.owners = &owners;
	eopts.record_units = true;
	report.skipped = cs.skipped;
	if (cs.describe)
		report.describe = tg_xstrdup(cs.describe);
	if (tg_engine_run(&report, repo, &cs, &eopts) < 0 ||
	    (ret = tg_common_report(&report, repo, &cfg, &copts, &oopts,
				    fail_on, base ? TG_BASELINE_FROM_HEAD : TG_BASELINE_FROM_INDEX)) < 0)
		goto fail;
	goto out;
fail:
	ret = tg_die_with_hint(tg_error_last());
out:
	free(args);
	tg_report_release(&report);
	tg_changeset_release(&cs);
	tg_owners_release(&owners);
	tg_config_release(&cfg);
	tg_repo_free(repo);
	return ret;
}
