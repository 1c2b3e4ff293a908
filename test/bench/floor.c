/*
 * The floors of the scan benchmarks, measured in the same run:
 *
 *   floor read  [REV]   read every *.py blob of REV's tree (default HEAD)
 *   floor parse [REV]   the same, and parse each one with tree-sitter
 *
 * One thread, in the current repository. Prints the number of files and
 * bytes so the benchmark can check both sides saw the same tree.
 */
#include "txguard/common.h"

#include <git2.h>
#include <tree_sitter/api.h>

const TSLanguage *tree_sitter_python(void);

struct walk {
	git_repository *repo;
	TSParser *parser;
	size_t files, bytes;
};

static int cb(const char *root, const git_tree_entry *e, void *payload)
{
	struct walk *w = payload;
	const char *name = git_tree_entry_name(e);
	size_t n = strlen(name);
	git_blob *blob;

	(void)root;
	if (git_tree_entry_type(e) != GIT_OBJECT_BLOB || n < 3 ||
	    strcmp(name + n - 3, ".py") ||
	    git_tree_entry_filemode(e) == GIT_FILEMODE_LINK)
		return 0;
	if (git_blob_lookup(&blob, w->repo, git_tree_entry_id(e)) < 0)
		return -1;
	w->files++;
	w->bytes += (size_t)git_blob_rawsize(blob);
	if (w->parser) {
		TSTree *t = ts_parser_parse_string(w->parser, NULL,
						   git_blob_rawcontent(blob),
						   (uint32_t)git_blob_rawsize(blob));
		ts_tree_delete(t);
	}
	git_blob_free(blob);
	return 0;
}

int main(int argc, char **argv)
{
	struct walk w = { 0 };
	git_object *obj = NULL;
	git_tree *tree = NULL;
	int ret = 1;

	if (argc < 2 || (strcmp(argv[1], "read") && strcmp(argv[1], "parse"))) {
		fprintf(stderr, "usage: floor read|parse [REV]\n");
		return 2;
	}
	git_libgit2_init();
	if (git_repository_open_ext(&w.repo, ".", 0, NULL) < 0 ||
	    git_revparse_single(&obj, w.repo, argc > 2 ? argv[2] : "HEAD") < 0 ||
	    git_object_peel((git_object **)&tree, obj, GIT_OBJECT_TREE) < 0) {
		fprintf(stderr, "floor: %s\n", git_error_last()->message);
		goto out;
	}
	if (!strcmp(argv[1], "parse")) {
		w.parser = ts_parser_new();
		ts_parser_set_language(w.parser, tree_sitter_python());
	}
	if (git_tree_walk(tree, GIT_TREEWALK_PRE, cb, &w) < 0)
		goto out;
	printf("%zu files, %zu bytes\n", w.files, w.bytes);
	ret = 0;
out:
	if (w.parser)
		ts_parser_delete(w.parser);
	git_tree_free(tree);
	git_object_free(obj);
	git_repository_free(w.repo);
	git_libgit2_shutdown();
	return ret;
}
