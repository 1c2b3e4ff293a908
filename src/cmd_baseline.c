/*
 * txguard baseline: record the findings of a full scan in the baseline
 * file, atomically, so a team adopting txguard is blocked only by what it
 * adds. Comments of the existing file are kept.
 */
#include "txguard/common.h"
#include "txguard/baseline.h"
#include "txguard/buf.h"
#include "txguard/cmd.h"
#include "txguard/config.h"
#include "txguard/error.h"
#include "txguard/owner_table.h"
#include "txguard/repo.h"
#include "txguard/report.h"

#include <errno.h>
#include <sys/stat.h>

static const struct tg_opt_command usage = {
	"txguard baseline [--rev REV] [--output FILE]",
	"Scan the tree of REV (default HEAD) and write every finding (except\n"
	"those suppressed inline) to the baseline file (txguard.baseline,\n"
	"default .txguard-baseline at the top of the work tree), replacing it\n"
	"atomically and keeping its comment lines. Commit the file: check then\n"
	"blocks only on findings that are not in it.",
	0,
};

/* The comment lines of the file being replaced, if it exists and parses. */
static int old_comments(struct tg_buf *out, const char *path)
{
	FILE *fp = fopen(path, "rb");
	struct tg_buf b = TG_BUF_INIT;
	struct tg_baseline old = TG_BASELINE_INIT;
	char chunk[65536];
	size_t n;
	int err = 0;

	if (!fp)
		return errno == ENOENT ? 0 :
		       tg_error_set(TG_EIO, "cannot read '%s': %s", path,
				    strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		tg_buf_add(&b, chunk, n);
	if (ferror(fp))
		err = tg_error_set(TG_EIO, "cannot read '%s'", path);
	fclose(fp);
	if (!err && (err = tg_baseline_parse(&old, path, b.ptr, b.len)) == 0)
		tg_buf_add(out, old.comments.ptr, old.comments.len);
	tg_baseline_release(&old);
	tg_buf_release(&b);
	return err;
}

/* Say so before scanning when the file's directory does not exist. */
static int dir_missing(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	struct stat st;
	int err = 0;

	if (!slash || slash == path)
		return 0;
	dir = tg_xstrndup(path, (size_t)(slash - path));
	if (stat(dir, &st) < 0)
		err = tg_error_set(TG_EIO, "cannot write '%s': directory '%s' does not exist",
				   path, dir);
	else if (!S_ISDIR(st.st_mode))
		err = tg_error_set(TG_EIO, "cannot write '%s': '%s' is not a directory",
				   path, dir);
	free(dir);
	return err;
}

int cmd_baseline(int argc, const char **argv)
{
	const char *rev = NULL, *output = NULL;
	const struct tg_option opts[] = {
		{ "rev", 0, TG_OPT_STRING, &rev, "REV",
		  "the tree to scan (default HEAD)" },
		{ "output", 'o', TG_OPT_STRING, &output, "FILE",
		  "write FILE instead of the configured baseline" },
	};
	struct tg_repo *repo = NULL;
	struct tg_config cfg;
	struct tg_owner_table owners = TG_OWNER_TABLE_INIT;
	struct tg_report report = TG_REPORT_INIT;
	struct tg_buf comments = TG_BUF_INIT;
	char *path = NULL;
	const char **args = NULL;
	int nargs, err, ret = TG_EXIT_ERROR;
	size_t entries = 0;

	tg_config_init(&cfg);
	if ((err = tg_opt_parse(&args, &nargs, argc, argv, opts,
				TG_ARRAY_SIZE(opts), &usage)) != 0) {
		ret = err == TG_OPT_HELP ? TG_EXIT_OK :
		      tg_cmd_usage_error("baseline", tg_error_last());
		goto out;
	}
	if (tg_repo_open(&repo, NULL) < 0 || tg_config_load(&cfg, repo) < 0)
		goto fail;
	if (output) {
		path = tg_xstrdup(output);
	} else if (!tg_repo_workdir(repo)) {
		tg_error_set(TG_ERROR,
			     "bare repository: name the file with --output");
		goto fail;
	} else {
		path = tg_xasprintf("%s%s", tg_repo_workdir(repo), cfg.baseline);
	}
	if (dir_missing(path) < 0)
		goto fail;
	tg_owners_from_config(&owners, &cfg);
	if (tg_scan_tree(&report, repo, &cfg, &owners, rev, NULL, 0,
			 tg_default_threads(), false) < 0 ||
	    old_comments(&comments, path) < 0 ||
	    tg_baseline_write_file(path, &report.findings,
				   comments.len ? comments.ptr : NULL) < 0)
		goto fail;
	for (size_t i = 0; i < report.findings.nr; i++)
		entries += report.findings.v[i].status != TG_STATUS_SUPPRESSED;
	printf("txguard: wrote %zu entr%s to %s (%s); commit it to adopt it\n",
	       entries, entries == 1 ? "y" : "ies", output ? output : cfg.baseline,
	       report.describe ? report.describe : "HEAD");
	ret = TG_EXIT_OK;
	goto out;
fail:
	ret = tg_cmd_error(tg_error_last());
out:
	free(args);
	free(path);
	tg_buf_release(&comments);
	tg_report_release(&report);
	tg_owner_table_release(&owners);
	tg_config_release(&cfg);
	tg_repo_free(repo);
	return ret;
}
