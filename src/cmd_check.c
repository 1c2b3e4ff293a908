/*
 * txguard check: staged mode (the index git will commit against HEAD, what
 * the hook runs) or branch mode (--base REV [--head REV]). Builds the
 * changeset, hands it to the engine, prints the report (SPEC §2, §3).
 */
#include "txguard/common.h"
#include "txguard/cmd.h"
#include "txguard/buf.h"
#include "txguard/config.h"
#include "txguard/diff.h"
#include "txguard/engine.h"
#include "txguard/error.h"
#include "txguard/inferstate.h"
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

/* §4: say why files the change did not touch were checked */
static void note_dependents(struct tg_report *r, const struct tg_inferstate *st)
{
	struct tg_buf names = TG_BUF_INIT;

	for (size_t i = 0; i < st->nchanged && i < 5; i++)
		tg_buf_addf(&names, "%s%s", i ? ", " : "", st->changed[i]);
	if (st->nchanged > 5)
		tg_buf_addf(&names, " and %zu more", st->nchanged - 5);
	tg_report_notice(r,
			 "%zu unchanged file%s re-checked: %s use%s %s, whose definition changed",
			 st->dependents, st->dependents == 1 ? "" : "s",
			 st->dependents == 1 ? "it" : "they",
			 st->dependents == 1 ? "s" : "", names.ptr);
	tg_buf_release(&names);
}

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
	struct tg_inferstate st;
	const char **args = NULL;
	int nargs, fail_on, ret = TG_EXIT_ERROR;

	tg_config_init(&cfg);
	tg_inferstate_init(&st);
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
		ret = tg_die_unexpected("check --help", args[0]);
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
	st.max_file_size = cfg.max_file_size;
	if (base) {
		if (tg_changeset_branch(&cs, repo, base, head ? head : "HEAD",
					&cfg.files) < 0 ||
		    tg_inferstate_branch(&st, repo, &cs,
					 head ? head : "HEAD") < 0)
			goto fail;
	} else if (tg_changeset_staged(&cs, repo, &cfg.files) < 0 ||
		   tg_inferstate_staged(&st, repo, &cs) < 0) {
		goto fail;
	}
	eopts.resolver = st.now;
	eopts.infer = &st;

	eopts.cfg = &cfg;
	eopts.owners = &owners;
	eopts.record_units = true;
	report.skipped = cs.skipped;
	if (cs.describe)
		report.describe = tg_xstrdup(cs.describe);
	if (st.dependents)
		note_dependents(&report, &st);
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
	tg_inferstate_release(&st);
	tg_changeset_release(&cs);
	tg_owners_release(&owners);
	tg_config_release(&cfg);
	tg_repo_free(repo);
	return ret;
}
