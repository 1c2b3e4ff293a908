/*
 * txguard: the command table, libgit2's lifetime and the exit status.
 */
#include "txguard/common.h"
#include "txguard/cmd.h"
#include "txguard/error.h"
#include "txguard/gitalloc.h"
#include "txguard/repo.h"

#include <git2.h>

#ifndef TG_VERSION
#define TG_VERSION "unknown"
#endif

enum tg_cmd_flags {
	TG_CMD_REPO = 1 << 0, /* needs libgit2 */
};

struct tg_cmd {
	const char *name;
	int (*fn)(int argc, const char **argv);
	unsigned flags;
	const char *help;
};

static const struct tg_cmd commands[] = {
	{ "check", cmd_check, TG_CMD_REPO,
	  "check staged changes (the hook), or a branch with --base" },
	{ "scan", cmd_scan, TG_CMD_REPO,
	  "check every Python file of a tree (default HEAD)" },
	{ "fix", cmd_fix, TG_CMD_REPO,
	  "remove redundant commit()/rollback() calls from the working tree" },
	{ "baseline", cmd_baseline, TG_CMD_REPO,
	  "record the findings of a full scan in the baseline file" },
	{ "explain", cmd_explain, 0, "describe a rule: what, why, wrong/right, fix" },
	{ "index", cmd_index, TG_CMD_REPO,
	  "build the owner index now (first commits in large repositories)" },
};

static void usage(FILE *fp)
{
	fputs("usage: txguard COMMAND [OPTIONS]\n"
	      "       txguard --version | --help | COMMAND --help\n\n"
	      "Blocks commits that add database-session anti-patterns to Python\n"
	      "code (SQLAlchemy, sync or asyncio), above all explicit commit() or\n"
	      "rollback() inside a context manager that already owns the\n"
	      "transaction.\n\ncommands:\n",
	      fp);
	for (size_t i = 0; i < TG_ARRAY_SIZE(commands); i++)
		fprintf(fp, "  %-10s %s\n", commands[i].name, commands[i].help);
	fputs("\nexit status: 0 nothing new blocks, 1 new blocking findings,\n"
	      "2 usage, configuration, repository or internal error\n",
	      fp);
}

/*
 * Bounded memory: libgit2 keeps pack windows mapped up to 8 GiB
 * and caches objects up to 256 MiB by default, so a scan that reads every
 * blob would grow with the repository. Bound the windows; a window
 * dropped is only mapped again if needed. No object cache at all: txguard
 * reads each tree once a walk, and even a 1 MiB cache (of parsed trees,
 * bigger than their accounted size) made a scan of 4x the files peak
 * 0.7 MiB higher.
 */
static void bound_libgit2_memory(void)
{
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_SIZE, (size_t)1 << 20);
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT, (size_t)8 << 20);
	git_libgit2_opts(GIT_OPT_ENABLE_CACHING, 0);
}

int main(int argc, const char **argv)
{
	const struct tg_cmd *cmd = NULL;
	int ret;

	if (argc < 2) {
		usage(stderr);
		return TG_EXIT_ERROR;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("txguard %s\n", TG_VERSION);
		return fflush(stdout) ? TG_EXIT_ERROR : TG_EXIT_OK;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return fflush(stdout) ? TG_EXIT_ERROR : TG_EXIT_OK;
	}
	for (size_t i = 0; i < TG_ARRAY_SIZE(commands); i++)
		if (!strcmp(argv[1], commands[i].name))
			cmd = &commands[i];
	if (!cmd) {
		char msg[256];

		snprintf(msg, sizeof(msg), "'%s' is not a txguard command",
			 argv[1]);
		return tg_cmd_usage_error(NULL, msg);
	}
	if ((cmd->flags & TG_CMD_REPO) && tg_gitalloc_install() < 0)
		return tg_cmd_error(tg_error_last());
	if ((cmd->flags & TG_CMD_REPO) && git_libgit2_init() < 0)
		return tg_cmd_error("cannot initialise libgit2");
	if (cmd->flags & TG_CMD_REPO)
		bound_libgit2_memory();
	ret = cmd->fn(argc - 1, argv + 1);
	if (cmd->flags & TG_CMD_REPO)
		git_libgit2_shutdown();
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "txguard: cannot write to standard output\n");
		return TG_EXIT_ERROR;
	}
	return ret;
}
