/*
 * txguard check: staged mode (the index git will commit against HEAD, what
 * the hook runs) or branch mode (--base REV [--head REV]). Builds the
 * changeset, hands it to the engine, prints the report.
 */
#include "txguard/common.h"
#include "txguard/cmd.h"
#include "txguard/buf.h"
#include "txguard/config.h"
#include "txguard/diff.h"
#include "txguard/engine.h"
#include "txguard/fix.h"
#include "txguard/glob.h"
#include "txguard/error.h"
#include "txguard/ownerscope.h"
#include "txguard/owner_table.h"
#include "txguard/repo.h"
#include "txguard/report.h"

static const struct tg_opt_command usage = {
	"txguard check [--base REV [--head REV] | --files FILE...] [OPTIONS]",
	"Check what is being committed (the index against HEAD; the empty tree\n"
	"on the first commit), or with --base the branch merge-base(REV, HEAD)..HEAD.\n"
	"Only the functions the change touches are analysed; only new findings\n"
	"at or above the fail-on level block.\n\n"
	"With --files, the arguments are the files the pre-commit framework\n"
	"passes: when the staged change touches every one of them (a commit),\n"
	"the staged change is checked as above; otherwise (pre-commit run\n"
	"--all-files) those files are scanned as at HEAD and their findings\n"
	"that are not in the baseline are reported.\n\n"
	"With --fix (staged mode), the new TX001 findings that txguard fix can\n"
	"remove safely are removed from the working-tree copies of the staged\n"
	"files whose content is the staged content (a file with unstaged\n"
	"changes is left alone), and the check fails so that they are reviewed\n"
	"and staged.",
	-1,
};

/* Does the staged change (any file, Python or not) touch every path? */
static int all_staged(bool *out, struct tg_repo *repo, char *const *paths,
		      size_t n)
{
	struct tg_glob_set any = TG_GLOB_SET_INIT;
	struct tg_changeset all = TG_CHANGESET_INIT;
	int err;

	*out = true;
	tg_glob_set_add(&any, false, "*");
	err = tg_changeset_staged(&all, repo, &any);
	for (size_t i = 0; !err && *out && i < n; i++) {
		bool found = false;

		for (size_t k = 0; !found && k < all.nr; k++)
			found = !strcmp(all.files[k].path, paths[i]);
		*out = found;
	}
	tg_changeset_release(&all);
	tg_glob_set_release(&any);
	return err;
}

/*
 * pre-commit run --all-files: scan the files given, as at HEAD; a file
 * not in HEAD (only staged) has nothing to scan.
 */
static int scan_files(struct tg_report *r, struct tg_repo *repo,
		      const struct tg_config *cfg,
		      const struct tg_owner_table *owners,
		      const struct tg_common_opts *copts,
		      struct tg_out_opts *oopts, int fail_on,
		      char *const *paths, size_t n)
{
	r->scan_paths = (const char *const *)paths;
	r->nscan_paths = n;
	oopts->staged = false;
	if (tg_scan_tree(r, repo, cfg, owners, NULL,
			 (const char *const *)paths, n, tg_default_threads(),
			 false) < 0)
		return -1;
	return tg_common_report(r, repo, cfg, copts, oopts, fail_on,
				TG_BASELINE_FROM_HEAD_SCAN);
}

/*
 * --fix: fix the new findings in the working-tree copies of their staged
 * files, only where the copy is exactly what is staged; a file with
 * unstaged changes is named and left alone. Returns the exit status.
 */
static int fix_staged(struct tg_report *r, struct tg_repo *repo,
		      const struct tg_config *cfg,
		      const struct tg_owner_table *owners, int ret)
{
	struct tg_fix_run_opts fo = { 0 };
	struct tg_fix_result res = { 0 };
	char **paths = NULL;
	size_t n = 0, alloc = 0;

	for (size_t i = 0; i < r->findings.nr; i++) {
		const struct tg_finding *f = &r->findings.v[i];
		char *staged = NULL, *full;
		size_t slen = 0;
		bool seen = false, same = false;
		FILE *fp;

		if (f->status != TG_STATUS_NEW || strcmp(f->rule->id, "TX001"))
			continue;
		for (size_t k = 0; k < n && !seen; k++)
			seen = !strcmp(paths[k], f->path);
		for (size_t k = 0; k < i && !seen; k++)
			seen = !strcmp(r->findings.v[k].path, f->path);
		if (seen)
			continue;
		full = tg_xasprintf("%s%s", tg_repo_workdir(repo), f->path);
		if (tg_repo_read_path(&staged, &slen, repo, f->path, true) >= 0 &&
		    (fp = fopen(full, "rb"))) {
			struct tg_buf b = TG_BUF_INIT;
			char chunk[65536];
			size_t got;

			while ((got = fread(chunk, 1, sizeof(chunk), fp)) > 0)
				tg_buf_add(&b, chunk, got);
			same = !ferror(fp) && b.len == slen &&
			       !memcmp(b.ptr, staged, slen);
			fclose(fp);
			tg_buf_release(&b);
		}
		free(staged);
		free(full);
		if (!same) {
			fprintf(stderr, "txguard: not fixed: %s has unstaged changes\n",
				f->path);
			continue;
		}
		TG_ALLOC_GROW(paths, n + 1, alloc);
		paths[n++] = f->path;
	}
	fo.workdir = tg_repo_workdir(repo);
	fo.only = &r->findings;
	res.msg = stderr;
	if (n && tg_fix_run(&res, repo, cfg, owners, paths, n, &fo) < 0)
		ret = tg_cmd_error(tg_error_last());
	else if (res.errors)
		ret = TG_EXIT_ERROR;
	else if (res.fixed) {
		fprintf(stderr,
			"txguard: fixed %zu finding%s in %zu file%s; review and stage them\n",
			res.fixed, res.fixed == 1 ? "" : "s", res.files_fixed,
			res.files_fixed == 1 ? "" : "s");
		ret = TG_EXIT_BLOCKED;
	}
	free(paths);
	return ret;
}

/* say which files the change did not touch were checked, and why */
static void note_dependents(struct tg_report *r, const struct tg_ownerscope *st,
			    const struct tg_changeset *cs)
{
	struct tg_buf names = TG_BUF_INIT, files = TG_BUF_INIT;
	size_t nfiles = 0;

	for (size_t i = 0; i < st->nchanged && i < 5; i++)
		tg_buf_addf(&names, "%s%s", i ? ", " : "", st->changed[i]);
	if (st->nchanged > 5)
		tg_buf_addf(&names, " and %zu more", st->nchanged - 5);
	for (size_t i = 0; i < cs->nr; i++) {
		const struct tg_change *ch = &cs->files[i];

		if (!ch->whole_file ||
		    memcmp(&ch->old_id, &ch->new_id, sizeof(ch->new_id)))
			continue;
		if (nfiles < 5)
			tg_buf_addf(&files, "%s%s", nfiles ? ", " : "", ch->path);
		nfiles++;
	}
	if (nfiles > 5)
		tg_buf_addf(&files, " and %zu more", nfiles - 5);
	tg_report_notice(r,
			 "%zu unchanged file%s re-checked%s%s%s: %s use%s %s, whose definition changed",
			 st->dependents, st->dependents == 1 ? "" : "s",
			 nfiles ? " (" : "", files.ptr, nfiles ? ")" : "",
			 st->dependents == 1 ? "it" : "they",
			 st->dependents == 1 ? "s" : "", names.ptr);
	tg_buf_release(&names);
	tg_buf_release(&files);
}

/*
 * With include patterns configured: the changed *.py files they (or
 * exclude) left out are counted as such, not as "not Python", and when
 * the patterns select none of the changed Python files, a notice says so
 * rather than passing silently.
 */
static int note_unselected(struct tg_report *r, struct tg_repo *repo,
			   const struct tg_config *cfg,
			   const struct tg_changeset *cs, const char *base,
			   const char *head)
{
	struct tg_changeset py = TG_CHANGESET_INIT;
	struct tg_buf names = TG_BUF_INIT, pats = TG_BUF_INIT;
	size_t n = 0;
	int err;

	if (!cfg->files.ninclude)
		return 0;
	err = base ? tg_changeset_branch(&py, repo, base, head, NULL) :
		     tg_changeset_staged(&py, repo, NULL);
	for (size_t i = 0; !err && i < py.nr; i++) {
		bool selected = false;

		for (size_t k = 0; !selected && k < cs->nr; k++)
			selected = !strcmp(cs->files[k].path, py.files[i].path);
		if (selected)
			continue;
		if (n < 3)
			tg_buf_addf(&names, "%s%s", n ? ", " : "",
				    py.files[i].path);
		n++;
	}
	if (!err && n) {
		r->not_selected = n;
		r->skipped.not_python -= n <= r->skipped.not_python ? n : 0;
	}
	if (!err && n && !cs->nr) {
		for (size_t i = 0; i < cfg->files.ninclude; i++)
			tg_buf_addf(&pats, "%s%s", i ? ", " : "",
				    cfg->files.include[i]);
		tg_report_notice(r,
				 "include (%s) selects none of the %zu changed Python file%s (%s%s): nothing was checked",
				 pats.ptr, n, n == 1 ? "" : "s", names.ptr,
				 n > 3 ? ", ..." : "");
	}
	tg_buf_release(&names);
	tg_buf_release(&pats);
	tg_changeset_release(&py);
	return err;
}

int cmd_check(int argc, const char **argv)
{
	struct tg_common_opts copts = { 0 };
	const char *base = NULL, *head = NULL;
	bool files = false, fix = false;
	const struct tg_option opts[] = {
		{ "base", 0, TG_OPT_STRING, &base, "REV",
		  "branch mode: check merge-base(REV, HEAD)..HEAD" },
		{ "head", 0, TG_OPT_STRING, &head, "REV",
		  "with --base: the branch tip (default HEAD)" },
		{ "files", 0, TG_OPT_FLAG, &files, NULL,
		  "the arguments are the files of a pre-commit run (see above)" },
		{ "fix", 0, TG_OPT_FLAG, &fix, NULL,
		  "remove the new TX001 findings' safe fixes from the staged files' working copies (see above)" },
		TG_COMMON_OPTIONS(copts),
	};
	struct tg_out_opts oopts;
	struct tg_repo *repo = NULL;
	struct tg_config cfg;
	struct tg_owner_table owners = TG_OWNER_TABLE_INIT;
	struct tg_changeset cs = TG_CHANGESET_INIT;
	struct tg_report report = TG_REPORT_INIT;
	struct tg_engine_opts eopts = { 0 };
	struct tg_ownerscope st;
	const char **args = NULL;
	char **paths = NULL;
	int nargs = 0, fail_on, err, ret = TG_EXIT_ERROR;

	tg_config_init(&cfg);
	tg_ownerscope_init(&st);
	if ((err = tg_opt_parse(&args, &nargs, argc, argv, opts,
				TG_ARRAY_SIZE(opts), &usage)) == TG_OPT_HELP) {
		ret = TG_EXIT_OK;
		goto out;
	}
	if (err < 0 || tg_common_opts_resolve(&oopts, &fail_on, &copts) < 0) {
		ret = tg_cmd_usage_error("check", tg_error_last());
		goto out;
	}
	if (head && !base) {
		ret = tg_cmd_usage_error("check", "--head needs --base");
		goto out;
	}
	if (nargs && !files) {
		char msg[256];

		snprintf(msg, sizeof(msg),
			 "unexpected argument '%.200s' (file names need --files)",
			 args[0]);
		ret = tg_cmd_usage_error("check", msg);
		goto out;
	}
	if (files && base) {
		ret = tg_cmd_usage_error("check", "--files checks the staged change; it takes no --base");
		goto out;
	}
	if (fix && base) {
		ret = tg_cmd_usage_error("check", "--fix fixes the staged change; it takes no --base");
		goto out;
	}
	oopts.staged = !base;

	if (tg_repo_open(&repo, NULL) < 0 || tg_config_load(&cfg, repo) < 0)
		goto fail;
	tg_owners_from_config(&owners, &cfg);
	st.max_file_size = cfg.max_file_size;
	if (nargs) {
		char *prefix = tg_cmd_cwd_prefix(repo);
		bool staged;

		paths = tg_xcalloc((size_t)nargs, sizeof(*paths));
		for (int i = 0; i < nargs; i++)
			if (tg_cmd_repo_path(&paths[i], prefix, args[i]) < 0) {
				free(prefix);
				goto fail;
			}
		free(prefix);
		if (all_staged(&staged, repo, paths, (size_t)nargs) < 0)
			goto fail;
		if (!staged) {
			if ((ret = scan_files(&report, repo, &cfg, &owners,
					      &copts, &oopts, fail_on, paths,
					      (size_t)nargs)) < 0)
				goto fail;
			goto out;
		}
	}
	if (base) {
		if (tg_changeset_branch(&cs, repo, base, head ? head : "HEAD",
					&cfg.files) < 0 ||
		    tg_ownerscope_branch(&st, repo, &cs,
					 head ? head : "HEAD") < 0)
			goto fail;
	} else if (tg_changeset_staged(&cs, repo, &cfg.files) < 0 ||
		   tg_ownerscope_staged(&st, repo, &cs) < 0) {
		goto fail;
	}
	eopts.resolver = st.now;
	eopts.infer = &st;

	eopts.cfg = &cfg;
	eopts.owners = &owners;
	eopts.record_units = true;
	report.skipped = cs.skipped;
	if (note_unselected(&report, repo, &cfg, &cs, base,
			    head ? head : "HEAD") < 0)
		goto fail;
	if (cs.describe)
		report.describe = tg_xstrdup(cs.describe);
	if (st.dependents)
		note_dependents(&report, &st, &cs);
	if (tg_engine_run(&report, repo, &cs, &eopts) < 0 ||
	    (ret = tg_common_report(&report, repo, &cfg, &copts, &oopts,
				    fail_on, base ? TG_BASELINE_FROM_HEAD : TG_BASELINE_FROM_INDEX)) < 0)
		goto fail;
	if (fix && tg_repo_workdir(repo))
		ret = fix_staged(&report, repo, &cfg, &owners, ret);
	goto out;
fail:
	ret = tg_cmd_error(tg_error_last());
out:
	for (int i = 0; paths && i < nargs; i++)
		free(paths[i]);
	free(paths);
	free(args);
	tg_report_release(&report);
	tg_ownerscope_release(&st);
	tg_changeset_release(&cs);
	tg_owner_table_release(&owners);
	tg_config_release(&cfg);
	tg_repo_free(repo);
	return ret;
}
