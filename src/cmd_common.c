#include "txguard/common.h"
#include "txguard/cmd.h"
#include "txguard/baseline.h"
#include "txguard/buf.h"
#include "txguard/config.h"
#include "txguard/error.h"
#include "txguard/owner_table.h"
#include "txguard/repo.h"
#include "txguard/report.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

/*
 * How the user skips the hook that ran txguard, or NULL when no hook did
 * (by hand, in CI): the pre-commit framework sets PRE_COMMIT=1, and
 * txguard's hook script sets TXGUARD_HOOK to "pre-commit" or "git".
 */
static const char *skip_hint(void)
{
	const char *hook = getenv("TXGUARD_HOOK");
	const char *framework = getenv("PRE_COMMIT");

	if (hook && !strcmp(hook, "pre-commit"))
		return "SKIP=txguard git commit";
	if (hook && !strcmp(hook, "git"))
		return "git commit --no-verify";
	if (!(hook && *hook) && framework && !strcmp(framework, "1"))
		return "SKIP=txguard git commit";
	return NULL;
}

static void print_skip_hint(void)
{
	const char *hint = skip_hint();

	if (hint)
		fprintf(stderr, "hint: '%s' skips the hook once\n", hint);
}

int tg_cmd_error(const char *msg)
{
	fprintf(stderr, "txguard: %s\n", msg);
	print_skip_hint();
	return TG_EXIT_ERROR;
}

int tg_cmd_usage_error(const char *cmd, const char *msg)
{
	fprintf(stderr, "txguard: %s\n", msg);
	if (cmd)
		fprintf(stderr, "see 'txguard %s --help'\n", cmd);
	else
		fputs("see 'txguard --help'\n", stderr);
	print_skip_hint();
	return TG_EXIT_ERROR;
}

int tg_cmd_repo_path(char **out, const char *prefix, const char *arg)
{
	struct tg_buf b = TG_BUF_INIT;
	char *copy = tg_xasprintf("%s%s", prefix ? prefix : "", arg);
	char *save = NULL;

	*out = NULL;
	if (arg[0] == '/') {
		free(copy);
		return tg_error_set(TG_EUSAGE,
				    "'%s': give a path inside the work tree, relative to the current directory",
				    arg);
	}
	for (char *c = strtok_r(copy, "/", &save); c;
	     c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, "..")) {
			char *slash;

			if (!b.len) {
				free(copy);
				tg_buf_release(&b);
				return tg_error_set(TG_EUSAGE,
						    "'%s' is outside the repository",
						    arg);
			}
			slash = strrchr(b.ptr, '/');
			tg_buf_truncate(&b, slash ? (size_t)(slash - b.ptr) : 0);
			continue;
		}
		if (b.len)
			tg_buf_addch(&b, '/');
		tg_buf_addstr(&b, c);
	}
	free(copy);
	*out = tg_buf_detach(&b, NULL);
	return 0;
}

char *tg_cmd_cwd_prefix(const struct tg_repo *repo)
{
	const char *wd = tg_repo_workdir(repo);
	char *top, *cwd, *prefix = NULL;
	size_t n;

	if (!wd || !(top = realpath(wd, NULL)))
		return NULL;
	if (!(cwd = realpath(".", NULL))) {
		free(top);
		return NULL;
	}
	n = strlen(top);
	if (!strcmp(top, "/"))
		n = 0;
	if (!strncmp(cwd, top, n) && cwd[n] == '/' && cwd[n + 1])
		prefix = tg_xasprintf("%s/", cwd + n + 1);
	free(top);
	free(cwd);
	return prefix;
}

int tg_common_opts_resolve(struct tg_out_opts *out, int *fail_on,
			   const struct tg_common_opts *c)
{
	const char *color = c->color ? c->color : "auto";
	int f;

	memset(out, 0, sizeof(*out));
	*fail_on = -1;
	f = c->format ? tg_format_parse(c->format) : TG_FORMAT_TEXT;
	if (f < 0)
		return tg_error_set(TG_EUSAGE,
				    "unknown format '%s' (expected text, concise, json, sarif, github or gitlab)",
				    c->format);
	out->format = (enum tg_format)f;
	if (c->fail_on) {
		*fail_on = tg_severity_parse(c->fail_on);
		if (*fail_on < 0)
			return tg_error_set(TG_EUSAGE,
					    "bad --fail-on '%s' (expected critical, high, medium, low or never)",
					    c->fail_on);
	}
	if (!strcmp(color, "always")) {
		out->color = true;
	} else if (!strcmp(color, "never")) {
		out->color = false;
	} else if (!strcmp(color, "auto")) {
		const char *nc = getenv("NO_COLOR");

		/* https://no-color.org: any non-empty NO_COLOR disables */
		out->color = !c->output && !(nc && *nc) && isatty(1);
	} else {
		return tg_error_set(TG_EUSAGE,
				    "bad --color '%s' (expected auto, always or never)",
				    color);
	}
	out->all = c->all;
	out->quiet = c->quiet;
	out->skip_hint = skip_hint();
	return 0;
}

static int open_output(FILE **fp, const struct tg_common_opts *c)
{
	*fp = stdout;
	if (!c->output || !strcmp(c->output, "-"))
		return 0;
	*fp = fopen(c->output, "w");
	if (!*fp)
		return tg_error_set(TG_EIO, "cannot write '%s': %s", c->output,
				    strerror(errno));
	return 0;
}

static int close_output(FILE *fp, const struct tg_common_opts *c)
{
	bool failed = ferror(fp) != 0;

	if (fp == stdout) {
		if (fflush(fp) != 0 || failed)
			return tg_error_set(TG_EIO,
					    "cannot write the report to standard output");
		return 0;
	}
	if (fclose(fp) != 0 || failed)
		return tg_error_set(TG_EIO, "cannot write '%s'", c->output);
	return 0;
}

void tg_owners_from_config(struct tg_owner_table *o,
			   const struct tg_config *cfg)
{
	for (size_t i = 0; i < cfg->nowners; i++)
		tg_owner_table_add_owner(o, cfg->owners[i], TG_OWNER_CONFIGURED,
				    cfg->file, "configured owner: commits on exit");
	for (size_t i = 0; i < cfg->nfactories; i++)
		tg_owner_table_add_factory(o, cfg->factories[i],
				      TG_OWNER_CONFIGURED, cfg->file);
}

static bool unit_in_scope(const char *path, const char *unit, void *payload)
{
	return tg_report_has_unit(payload, path, unit);
}

bool tg_cmd_path_under(const char *path, const char *prefix)
{
	size_t l = strlen(prefix);

	return !l || (!strncmp(path, prefix, l) && (!path[l] || path[l] == '/'));
}

/* A partial scan: only entries of the files it scanned can be prunable. */
static bool path_in_scan(const char *path, const char *unit, void *payload)
{
	const struct tg_report *r = payload;

	(void)unit;
	for (size_t i = 0; i < r->nscan_paths; i++)
		if (tg_cmd_path_under(path, r->scan_paths[i]))
			return true;
	return false;
}

/* Read a whole file from disk into a fresh NUL-terminated buffer. */
static int read_disk_file(char **out, size_t *len, const char *path)
{
	FILE *fp = fopen(path, "rb");
	struct tg_buf b = TG_BUF_INIT;
	char chunk[65536];
	size_t n;

	*out = NULL;
	if (!fp)
		return tg_error_set(TG_EIO, "cannot read baseline '%s': %s",
				    path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		tg_buf_add(&b, chunk, n);
	if (ferror(fp)) {
		fclose(fp);
		tg_buf_release(&b);
		return tg_error_set(TG_EIO, "cannot read baseline '%s'", path);
	}
	fclose(fp);
	*out = tg_buf_detach(&b, len);
	return 0;
}

static int apply_baseline(struct tg_report *r, struct tg_repo *repo,
			     const char *path, const struct tg_common_opts *c,
			     enum tg_baseline_source from)
{
	struct tg_baseline b = TG_BASELINE_INIT;
	const struct tg_baseline_entry **prunable = NULL;
	char *buf = NULL;
	size_t len = 0, nprunable = 0;
	const char *name = c->baseline ? c->baseline : path;
	int err;

	if (c->no_baseline)
		return 0;
	if (c->baseline) {
		err = read_disk_file(&buf, &len, c->baseline);
	} else if (from == TG_BASELINE_FROM_HEAD_SCAN && tg_repo_workdir(repo)) {
		/* scan: the file on disk, so `baseline` then `scan` agree */
		char *disk = tg_xasprintf("%s%s", tg_repo_workdir(repo), path);

		err = access(disk, F_OK) ? TG_ENOTFOUND :
					   read_disk_file(&buf, &len, disk);
		free(disk);
	} else {
		err = tg_repo_read_path(&buf, &len, repo, path,
					from == TG_BASELINE_FROM_INDEX);
	}
	if (err == TG_ENOTFOUND && !c->baseline)
		return 0; /* no baseline yet: nothing is baselined */
	if (err < 0)
		return err;
	if ((err = tg_baseline_parse(&b, name, buf, len)) < 0)
		goto out;
	tg_baseline_apply(&b, &r->findings);
	/* entries that match nothing are a notice, never an error */
	tg_baseline_prunable(&prunable, &nprunable, &b,
			     from != TG_BASELINE_FROM_HEAD_SCAN ? unit_in_scope :
			     r->nscan_paths ? path_in_scan : NULL,
			     r);
	for (size_t i = 0; i < nprunable; i++)
		tg_report_notice(r,
				 "%s:%zu: baseline entry %s %s %s matches nothing (prunable)",
				 name, prunable[i]->line, prunable[i]->rule,
				 prunable[i]->path, prunable[i]->unit);
out:
	free(prunable);
	tg_baseline_release(&b);
	free(buf);
	return err;
}

int tg_common_report(struct tg_report *r, struct tg_repo *repo,
		     const struct tg_config *cfg,
		     const struct tg_common_opts *c,
		     const struct tg_out_opts *o, int fail_on,
		     enum tg_baseline_source from)
{
	struct tg_out_opts shown = *o;
	char *prefix = tg_cmd_cwd_prefix(repo);
	FILE *fp;
	int err, cerr;

	shown.cwd_prefix = prefix;
	if ((err = apply_baseline(r, repo, cfg->baseline, c, from)) < 0)
		goto out;
	r->cfg = cfg;
	if (cfg->notice)
		tg_report_notice(r, "%s", cfg->notice);
	r->fail_on_origin = fail_on >= 0 ? "--fail-on" : cfg->fail_on_origin;
	tg_report_finish(r, fail_on >= 0 ? (enum tg_severity)fail_on :
					   cfg->fail_on);
	if ((err = open_output(&fp, c)) < 0)
		goto out;
	err = tg_out_write(fp, r, &shown);
	cerr = close_output(fp, c);
	if (err >= 0 && cerr < 0)
		err = cerr;
out:
	free(prefix);
	if (err < 0)
		return err;
	return r->blocked ? TG_EXIT_BLOCKED : TG_EXIT_OK;
}
