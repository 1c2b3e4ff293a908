/*
 * txguard index: build or refresh the owner index (ownerdb.h) now, so the
 * first commit in a large repository does not pay for it. Every check
 * and scan refreshes it anyway; this only moves the cost.
 */
#include "txguard/common.h"
#include "txguard/cmd.h"
#include "txguard/config.h"
#include "txguard/error.h"
#include "txguard/infer.h"
#include "txguard/ownerscope.h"
#include "txguard/ownerdb.h"
#include "txguard/repo.h"

#include <time.h>

static const struct tg_opt_command usage = {
	"txguard index [--rev REV] [-q]",
	"Build or refresh the owner index: what every Python file of the index\n"
	"(or of the tree of REV) defines and uses, cached by blob id in the git\n"
	"directory. check and scan keep it fresh by themselves; run this once\n"
	"after installing the hook in a large repository so the first commit\n"
	"is as fast as the next ones.",
	0,
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int cmd_index(int argc, const char **argv)
{
	const char *rev = NULL;
	bool quiet = false;
	const struct tg_option opts[] = {
		{ "rev", 0, TG_OPT_STRING, &rev, "REV",
		  "index the tree of REV instead of the index git will commit" },
		{ "quiet", 'q', TG_OPT_FLAG, &quiet, NULL, "print nothing" },
	};
	struct tg_repo *repo = NULL;
	struct tg_ownerdb *db = NULL;
	struct tg_config cfg;
	const char **args = NULL;
	int nargs, err, ret = TG_EXIT_ERROR;
	double start = now_ms();

	tg_config_init(&cfg);
	if ((err = tg_opt_parse(&args, &nargs, argc, argv, opts,
				TG_ARRAY_SIZE(opts), &usage)) != 0) {
		ret = err == TG_OPT_HELP ? TG_EXIT_OK :
		      tg_cmd_usage_error("index", tg_error_last());
		goto out;
	}
	if (tg_repo_open(&repo, NULL) < 0) {
		ret = tg_cmd_error(tg_error_last());
		goto out;
	}
	if (!rev && !tg_repo_workdir(repo) && !getenv("GIT_INDEX_FILE")) {
		ret = tg_cmd_error("a bare repository has no index to build the owner index from;"
				   " name a tree with 'txguard index --rev REV'");
		goto out;
	}
	if (tg_config_load(&cfg, repo) < 0 ||
	    tg_ownerscope_ownerdb(&db, repo, rev, 0, cfg.max_file_size) < 0) {
		ret = tg_cmd_error(tg_error_last());
		goto out;
	}
	if (!quiet) {
		const struct tg_ownerdb_stats *st = tg_ownerdb_stats(db);
		size_t defs = 0;
		char *path = tg_ownerdb_default_path(tg_repo_git(repo));
		bool kept;

		for (size_t i = 0; i < tg_ownerdb_count(db); i++) {
			const struct tg_ownerdb_file *f = tg_ownerdb_file(db, i);

			defs += f->len && (f->head[0] & TG_INFER_HAS_DEFS);
		}
		kept = st->written || st->cache_valid;

		printf("txguard: owner index of %s: %zu Python file%s, %zu defining owners, dependencies, aliases, factories or committing functions; %zu already indexed, %zu read, %zu parsed, in %.0f ms; %s%s\n",
		       rev ? rev : "the index", st->files,
		       st->files == 1 ? "" : "s", defs, st->cached,
		       st->read, st->parsed, now_ms() - start,
		       !st->files ? "no Python file, so nothing to cache" :
		       kept && path ? "cache " :
		       !path ? "no cache: the git directory has no place for one" :
			       "the cache could not be written (is the git directory read-only?)",
		       st->files && kept && path ? path : "");
		free(path);
	}
	ret = TG_EXIT_OK;
out:
	tg_ownerdb_free(db);
	tg_config_release(&cfg);
	tg_repo_free(repo);
	free(args);
	return ret;
}
