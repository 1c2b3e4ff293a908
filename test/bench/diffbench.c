/*
 * diffbench: the staged changeset alone (repo open + diff, no analysis),
 * to measure diff.c against `git diff --cached`.
 * build: cc -Iinclude test/bench/diffbench.c BUILD/src/tlsinit.o
 *        BUILD/libtxguard.a -lgit2 ...
 * usage: diffbench [-v]   (TXGUARD_DIFF_SLOW=1: plain libgit2 diff)
 */
#include "txguard/common.h"
#include "txguard/diff.h"
#include "txguard/error.h"
#include "txguard/repo.h"

#include <stdio.h>
#include <string.h>
#include <git2.h>

int main(int argc, char **argv)
{
	struct tg_changeset cs = TG_CHANGESET_INIT;
	struct tg_repo *repo = NULL;
	bool verbose = argc > 1 && !strcmp(argv[1], "-v");
	int err;

	git_libgit2_init();
	if ((err = tg_repo_open(&repo, NULL)) < 0 ||
	    (err = tg_changeset_staged(&cs, repo, NULL)) < 0) {
		fprintf(stderr, "diffbench: %s\n", tg_error_last());
		return 2;
	}
	printf("%s: %zu files\n", cs.describe, cs.nr);
	for (size_t i = 0; verbose && i < cs.nr; i++) {
		printf("%d %s <- %s", (int)cs.files[i].status, cs.files[i].path,
		       cs.files[i].old_path ? cs.files[i].old_path : "-");
		for (size_t h = 0; h < cs.files[i].nhunks; h++)
			printf(" -%u,%u +%u,%u", cs.files[i].hunks[h].old_start,
			       cs.files[i].hunks[h].old_lines,
			       cs.files[i].hunks[h].new_start,
			       cs.files[i].hunks[h].new_lines);
		printf("\n");
	}
	if (verbose)
		printf("skipped: deleted %zu submodule %zu symlink %zu not_python %zu\n",
		       cs.skipped.deleted, cs.skipped.submodule,
		       cs.skipped.symlink, cs.skipped.not_python);
	tg_changeset_release(&cs);
	tg_repo_free(repo);
	return 0;
}
