/*
 * txguard fix: remove the redundant transaction calls (TX001) of the
 * working tree's Python files, the safe ones by default, the unsafe ones
 * too with --unsafe; --diff prints the change instead of writing it.
 *
 * The files are read from disk; the owners, dependencies and factories
 * other modules define come from the owner index of the index (what
 * `check` uses), and each fixed file's own definitions from its working
 * copy. Every file is analysed again after the edit: the result must
 * parse and have no finding the original lacked, or nothing is written.
 * Files are replaced atomically (a temporary file in the same directory,
 * synced, renamed over, with the file's mode); the index, HEAD and refs
 * are never touched.
 */
#include "txguard/common.h"
#include "txguard/buf.h"
#include "txguard/cmd.h"
#include "txguard/config.h"
#include "txguard/engine.h"
#include "txguard/error.h"
#include "txguard/finding.h"
#include "txguard/fix.h"
#include "txguard/glob.h"
#include "txguard/ownerdb.h"
#include "txguard/ownerscope.h"
#include "txguard/owner_table.h"
#include "txguard/repo.h"
#include "txguard/report.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct tg_opt_command usage = {
	"txguard fix [--diff] [--unsafe] [PATH...]",
	"Remove the redundant commit() and rollback() calls (TX001) from the\n"
	"Python files of the working tree (the files on disk), or only those\n"
	"under the PATHs given. Only fixes that keep the program's behaviour\n"
	"are applied, unless --unsafe; each fix is listed. Exit 0 when "
	"nothing\n"
	"is left to report, 1 when findings remain (unsafe fixes not applied,\n"
	"findings no fix removes), 2 on error.",
	-1,
};

/* Read a working-tree file; a symbolic link or non-regular file is skipped. */
static int read_work_file(char **out, size_t *len, mode_t *mode,
			  const char *full)
{
	struct tg_buf b = TG_BUF_INIT;
	struct stat st;
	char chunk[65536];
	ssize_t n;
	int fd;

	*out = NULL;
	fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return tg_error_set(TG_EIO, "cannot read '%s': %s", full,
				    strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return tg_error_set(
			TG_EIO, "cannot read '%s': not a regular file", full);
	}
	*mode = st.st_mode & 07777;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		tg_buf_add(&b, chunk, (size_t)n);
	close(fd);
	if (n < 0) {
		tg_buf_release(&b);
		return tg_error_set(TG_EIO, "cannot read '%s': %s", full,
				    strerror(errno));
	}
	*out = tg_buf_detach(&b, len);
	return 0;
}

/* Replace `full` by `data`: temporary file, fsync, rename, the same mode. */
static int write_atomic(const char *full, const char *data, size_t len,
			mode_t mode)
{
	char *tmp = tg_xasprintf("%s.txguard-fix.XXXXXX", full);
	char *dir = tg_xstrdup(full), *slash = strrchr(dir, '/');
	size_t off = 0;
	int fd, dfd, err = 0;

	if ((fd = mkstemp(tmp)) < 0) {
		err = tg_error_set(TG_EIO,
				   "cannot create a file next to '%s': %s",
				   full, strerror(errno));
		goto out;
	}
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (off < len || fchmod(fd, mode) < 0 || fsync(fd) < 0) {
		err = tg_error_set(TG_EIO, "cannot write '%s': %s", tmp,
				   strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	if (close(fd) < 0 || rename(tmp, full) < 0) {
		err = tg_error_set(TG_EIO, "cannot replace '%s': %s", full,
				   strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (slash) {
		*slash = '\0';
		if ((dfd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY)) >=
		    0) {
			fsync(dfd);
			close(dfd);
		}
	}
out:
	free(dir);
	free(tmp);
	return err;
}

/* A finding's identity that survives the removal of other lines. */
static char *finding_key(const struct tg_finding *f)
{
	return tg_xasprintf("%s|%s|%s|%s", f->rule->id, f->unit ? f->unit : "",
			    f->call_text ? f->call_text : "",
			    f->owner_text ? f->owner_text : "");
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Whether the findings of the fixed file (`after`) are among those of the
 * original (`before`) less the ones fixed, counted as a multiset.
 */
static bool no_new_findings(const struct tg_findings *before,
			    const struct tg_fix_plan *plan,
			    const struct tg_findings *after)
{
	char **b = tg_xcalloc(before->nr + 1, sizeof(*b));
	char **a = tg_xcalloc(after->nr + 1, sizeof(*a));
	size_t nb = 0, na = after->nr, i = 0, k = 0;
	bool ok = true;

	for (size_t x = 0; x < before->nr; x++) {
		bool fixed = false;

		for (size_t p = 0; p < plan->nr; p++)
			fixed |= plan->v[p].applied && plan->v[p].finding == x;
		if (!fixed)
			b[nb++] = finding_key(&before->v[x]);
	}
	for (size_t x = 0; x < na; x++)
		a[x] = finding_key(&after->v[x]);
	qsort(b, nb, sizeof(*b), cmp_strp);
	qsort(a, na, sizeof(*a), cmp_strp);
	while (ok && k < na) {
		int c = i < nb ? strcmp(b[i], a[k]) : 1;

		if (c < 0)
			i++;
		else if (c == 0)
			i++, k++;
		else
			ok = false;
	}
	for (size_t x = 0; x < nb; x++)
		free(b[x]);
	for (size_t x = 0; x < na; x++)
		free(a[x]);
	free(b);
	free(a);
	return ok;
}

/* Is this finding one `only` lists (same path, rule and position)? */
static bool listed(const struct tg_finding *f, const struct tg_findings *only)
{
	if (!only)
		return true;
	for (size_t i = 0; i < only->nr; i++) {
		const struct tg_finding *o = &only->v[i];

		if (o->status == TG_STATUS_NEW && o->rule == f->rule &&
		    o->line == f->line && o->column == f->column &&
		    !strcmp(o->path, f->path))
			return true;
	}
	return false;
}

static void say_left(struct tg_fix_result *res, const struct tg_finding *f,
		     const char *why, bool unsafe)
{
	fprintf(res->msg, "%s:%u: not fixed: %s (%s%s): %s\n", f->path, f->line,
		f->call_text ? f->call_text : "", f->rule->id,
		unsafe ? ", unsafe: --unsafe removes it" : "", why);
	if (unsafe)
		res->unsafe_left++;
	else
		res->unfixable++;
}

/* One file: analyse, plan, apply, verify, write or print the diff. */
static int fix_file(struct tg_fix_result *res, const char *path,
		    const struct tg_fix_run_opts *o,
		    const struct tg_engine_opts *eopts)
{
	struct tg_report before = TG_REPORT_INIT, after = TG_REPORT_INIT;
	struct tg_fix_plan plan = TG_FIX_PLAN_INIT;
	struct tg_buf fixed = TG_BUF_INIT;
	char *src = NULL, *full = tg_xasprintf("%s%s", o->workdir, path);
	size_t len = 0, napplied;
	mode_t mode = 0644;
	int err = 0;

	if (access(full, F_OK) < 0 && errno == ENOENT)
		goto out; /* tracked, but not in the working tree */
	if ((err = read_work_file(&src, &len, &mode, full)) < 0)
		goto out;
	if (eopts->cfg && eopts->cfg->max_file_size &&
	    len > eopts->cfg->max_file_size) {
		fprintf(res->msg, "%s: skipped: larger than maxFileSize (%zu bytes)\n",
			path, eopts->cfg->max_file_size);
		goto out;
	}
	if ((err = tg_engine_run_buffers(&before, path, src, len, NULL, 0, NULL,
					 0, eopts)) < 0)
		goto out;
	res->files++;
	err = tg_fix_plan(&plan, path, src, len, &before.findings);
	if (err == TG_EBINARY || err == TG_ETOODEEP) {
		err = 0;
		goto out;
	}
	if (err < 0)
		goto out;
	/* with `only`: the other findings are not this run's to fix */
	for (size_t i = 0; i < plan.nr; i++)
		if (!listed(&before.findings.v[plan.v[i].finding], o->only))
			plan.v[i].safety = TG_FIX_NOT_FIXED,
			plan.v[i].why = NULL;
	napplied = tg_fix_apply(&fixed, src, len, &plan, o->unsafe);
	if (napplied) {
		if ((err = tg_engine_run_buffers(&after, path, fixed.ptr,
						 fixed.len, NULL, 0, NULL, 0,
						 eopts)) < 0)
			goto out;
		if (after.partial_files ||
		    !no_new_findings(&before.findings, &plan,
				     &after.findings)) {
			err = tg_error_set(
				TG_ERROR,
				"internal error: the fixed '%s' does not "
				"analyse as the original less the fixed "
				"findings; nothing written",
				path);
			goto out;
		}
	}
	if (napplied && o->diff)
		tg_fix_diff(o->diff, path, src, len, &plan);
	else if (napplied &&
		 (err = write_atomic(full, fixed.ptr, fixed.len, mode)) < 0)
		goto out;
	/* what was done and what is left, in line order */
	for (size_t i = 0; i < before.findings.nr; i++) {
		const struct tg_finding *f = &before.findings.v[i];
		const struct tg_fix *fx = NULL;

		if (f->status == TG_STATUS_SUPPRESSED || !listed(f, o->only))
			continue;
		for (size_t p = 0; p < plan.nr; p++)
			if (plan.v[p].finding == i)
				fx = &plan.v[p];
		if (fx && fx->applied)
			fprintf(res->msg, "%s:%u: %s %s (%s, %s)\n", path,
				fx->line, o->diff ? "would remove" : "removed",
				f->call_text, f->rule->id,
				fx->safety == TG_FIX_SAFE ? "safe" : "unsafe");
		else if (fx && fx->safety == TG_FIX_UNSAFE)
			say_left(res, f, fx->why, true);
		else if (fx)
			say_left(res, f, fx->why, false);
		else
			say_left(res, f, "no automatic fix for this rule",
				 false);
	}
	if (napplied) {
		res->fixed += napplied;
		res->files_fixed++;
	}
out:
	if (err < 0) {
		fprintf(res->msg, "txguard: %s\n", tg_error_last());
		res->errors++;
	}
	tg_buf_release(&fixed);
	tg_fix_plan_release(&plan);
	tg_report_release(&before);
	tg_report_release(&after);
	free(src);
	free(full);
	return err;
}

int tg_fix_run(struct tg_fix_result *res, struct tg_repo *repo,
	       const struct tg_config *cfg, const struct tg_owner_table *owners,
	       char *const *paths, size_t npaths,
	       const struct tg_fix_run_opts *o)
{
	struct tg_engine_opts eopts = {0};
	struct tg_ownerscope st;
	int err;

	tg_ownerscope_init(&st);
	st.repo = repo;
	if ((err = tg_ownerscope_ownerdb(&st.db, repo, NULL, 0,
					 cfg->max_file_size)) < 0)
		goto out;
	st.now = tg_ownerdb_resolver(st.db);
	eopts.cfg = cfg;
	eopts.owners = owners;
	eopts.resolver = st.now;
	for (size_t i = 0; i < npaths; i++)
		fix_file(res, paths[i], o, &eopts);
out:
	tg_ownerscope_release(&st);
	return err;
}

static int cmp_path(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Add the selected Python files git does not track and does not ignore. */
static int add_untracked(char ***v, size_t *n, size_t *alloc,
			 struct tg_repo *repo, const struct tg_config *cfg,
			 char *const *args, size_t nargs, bool *hit)
{
	git_status_options so;
	git_status_list *list = NULL;

	git_status_options_init(&so, GIT_STATUS_OPTIONS_VERSION);
	so.show = GIT_STATUS_SHOW_WORKDIR_ONLY;
	so.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED |
		   GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS;
	if (git_status_list_new(&list, tg_repo_git(repo), &so) < 0)
		return tg_error_git("cannot list the untracked files");
	for (size_t i = 0; i < git_status_list_entrycount(list); i++) {
		const git_status_entry *e = git_status_byindex(list, i);
		const char *path;
		bool under = !nargs;

		if (!e || !(e->status & GIT_STATUS_WT_NEW) ||
		    !e->index_to_workdir ||
		    !(path = e->index_to_workdir->new_file.path))
			continue;
		for (size_t k = 0; k < nargs; k++)
			if (tg_cmd_path_under(path, args[k]))
				under = hit[k] = true;
		if (!under || !tg_glob_set_match(&cfg->files, path))
			continue;
		TG_ALLOC_GROW(*v, *n + 1, *alloc);
		(*v)[(*n)++] = tg_xstrdup(path);
	}
	git_status_list_free(list);
	return 0;
}

/*
 * The files to fix: the selected Python files of the working tree (those
 * the index tracks, and those git neither tracks nor ignores), under the
 * PATHs when given, and a PATH that names a file on disk.
 */
static int select_files(char ***out, size_t *nout, struct tg_repo *repo,
			const struct tg_config *cfg, char *const *args,
			size_t nargs)
{
	git_index *ix;
	bool *hit = tg_xcalloc(nargs + 1, sizeof(*hit));
	char **v = NULL;
	size_t n = 0, alloc = 0;
	int err;

	*out = NULL;
	*nout = 0;
	if ((err = tg_repo_index(&ix, repo)) < 0)
		goto out;
	for (size_t i = 0; i < git_index_entrycount(ix); i++) {
		const git_index_entry *e = git_index_get_byindex(ix, i);
		bool under = !nargs;

		if (!e || git_index_entry_stage(e) ||
		    (e->mode != 0100644 && e->mode != 0100755))
			continue;
		for (size_t k = 0; k < nargs; k++)
			if (tg_cmd_path_under(e->path, args[k]))
				under = hit[k] = true;
		if (!under || !tg_glob_set_match(&cfg->files, e->path))
			continue;
		TG_ALLOC_GROW(v, n + 1, alloc);
		v[n++] = tg_xstrdup(e->path);
	}
	if ((err = add_untracked(&v, &n, &alloc, repo, cfg, args, nargs,
				 hit)) < 0)
		goto out;
	for (size_t k = 0; k < nargs; k++) {
		char *full;
		struct stat st;

		if (hit[k])
			continue;
		full = tg_xasprintf("%s%s", tg_repo_workdir(repo), args[k]);
		if (*args[k] && !lstat(full, &st) && S_ISREG(st.st_mode)) {
			TG_ALLOC_GROW(v, n + 1, alloc);
			v[n++] = tg_xstrdup(args[k]);
		} else {
			err = tg_error_set(TG_ENOTFOUND,
					   "'%s' matches no Python file of the "
					   "working tree (paths are relative "
					   "to the current directory)",
					   *args[k] ? args[k] : ".");
		}
		free(full);
		if (err < 0)
			goto out;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_path);
out:
	free(hit);
	if (err < 0) {
		for (size_t i = 0; i < n; i++)
			free(v[i]);
		free(v);
		return err;
	}
	*out = v;
	*nout = n;
	return 0;
}

void tg_fix_summary(FILE *fp, const struct tg_fix_result *res, bool diff)
{
	size_t left = res->unsafe_left + res->unfixable;

	fprintf(fp, "%s %zu finding%s in %zu file%s",
		diff ? "would fix" : "fixed", res->fixed,
		res->fixed == 1 ? "" : "s", res->files_fixed,
		res->files_fixed == 1 ? "" : "s");
	if (left)
		fprintf(fp, "; %zu left", left);
	if (res->unsafe_left)
		fprintf(fp, ": %zu unsafe (--unsafe removes %s)",
			res->unsafe_left,
			res->unsafe_left == 1 ? "it" : "them");
	if (res->unfixable)
		fprintf(fp, "%s%zu not fixable", res->unsafe_left ? ", " : ": ",
			res->unfixable);
	if (res->errors)
		fprintf(fp, "; %zu error%s", res->errors,
			res->errors == 1 ? "" : "s");
	fputc('\n', fp);
}

int cmd_fix(int argc, const char **argv)
{
	bool diff = false, unsafe = false;
	const struct tg_option opts[] = {
		{"diff", 0, TG_OPT_FLAG, &diff, NULL,
		 "print the change as a unified diff; write nothing"},
		{"unsafe", 0, TG_OPT_FLAG, &unsafe, NULL,
		 "also apply the fixes that change behaviour"},
	};
	struct tg_fix_run_opts fo = {0};
	struct tg_fix_result res = {0};
	struct tg_buf patch = TG_BUF_INIT;
	struct tg_repo *repo = NULL;
	struct tg_config cfg;
	struct tg_owner_table owners = TG_OWNER_TABLE_INIT;
	const char **args = NULL;
	char **paths = NULL, **files = NULL, *prefix = NULL;
	size_t nfiles = 0;
	int nargs = 0, err, ret = TG_EXIT_ERROR;

	tg_config_init(&cfg);
	if ((err = tg_opt_parse(&args, &nargs, argc, argv, opts,
				TG_ARRAY_SIZE(opts), &usage)) == TG_OPT_HELP) {
		ret = TG_EXIT_OK;
		goto out;
	}
	if (err < 0) {
		ret = tg_cmd_usage_error("fix", tg_error_last());
		goto out;
	}
	if (tg_repo_open(&repo, NULL) < 0 || tg_config_load(&cfg, repo) < 0)
		goto fail;
	if (!tg_repo_workdir(repo)) {
		tg_error_set(
			TG_EUSAGE,
			"fix needs a working tree (this repository is bare)");
		goto fail;
	}
	prefix = tg_cmd_cwd_prefix(repo);
	paths = tg_xcalloc((size_t)nargs + 1, sizeof(*paths));
	for (int i = 0; i < nargs; i++) {
		const char *wd = tg_repo_workdir(repo), *a = args[i];
		bool inside = !strncmp(a, wd, strlen(wd));

		if ((inside &&
		     tg_cmd_repo_path(&paths[i], NULL, a + strlen(wd)) < 0) ||
		    (!inside && tg_cmd_repo_path(&paths[i], prefix, a) < 0)) {
			ret = tg_cmd_usage_error("fix", tg_error_last());
			goto out;
		}
	}
	tg_owners_from_config(&owners, &cfg);
	if (select_files(&files, &nfiles, repo, &cfg, paths, (size_t)nargs) < 0)
		goto fail;
	fo.workdir = tg_repo_workdir(repo);
	fo.unsafe = unsafe;
	fo.diff = diff ? &patch : NULL;
	res.msg = diff ? stderr : stdout;
	if (tg_fix_run(&res, repo, &cfg, &owners, files, nfiles, &fo) < 0)
		goto fail;
	fwrite(patch.ptr, 1, patch.len, stdout);
	tg_fix_summary(res.msg, &res, diff);
	if (res.errors)
		ret = TG_EXIT_ERROR;
	else if (res.unsafe_left || res.unfixable || (diff && res.fixed))
		ret = TG_EXIT_BLOCKED;
	else
		ret = TG_EXIT_OK;
	goto out;
fail:
	ret = tg_cmd_error(tg_error_last());
out:
	for (size_t i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	for (int i = 0; paths && i < nargs; i++)
		free(paths[i]);
	free(paths);
	free(prefix);
	free(args);
	tg_buf_release(&patch);
	tg_owner_table_release(&owners);
	tg_config_release(&cfg);
	tg_repo_free(repo);
	return ret;
}
