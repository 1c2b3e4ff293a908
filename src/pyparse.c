#include "txguard/common.h"
#include "txguard/error.h"
#include "txguard/pyparse.h"

#include <tree_sitter/api.h>

/* Compiled in from the pinned tree-sitter-python sources (SPEC §1). */
const TSLanguage *tree_sitter_python(void);

static int set_language(TSParser *parser)
{
	const TSLanguage *lang = tree_sitter_python();

	if (ts_parser_set_language(parser, lang))
		return 0;
	/* §1: a grammar of the wrong ABI must say so, not parse nothing */
	return tg_error_set(TG_ERROR,
			    "cannot load the python grammar: its ABI is %u, "
			    "this tree-sitter loads %d to %d",
			    ts_language_version(lang),
			    TREE_SITTER_MIN_COMPATIBLE_LANGUAGE_VERSION,
			    TREE_SITTER_LANGUAGE_VERSION);
}

int tg_pyparse_selftest(void)
{
	TSParser *parser = ts_parser_new();
	int err = set_language(parser);

	ts_parser_delete(parser);
	return err;
}

static void index_lines(struct tg_pyfile *py)
{
	size_t alloc = 0;

	/* lines end at \n only, as tree-sitter counts rows; \r stays in the line */
	TG_ALLOC_GROW(py->line_start, 1, alloc);
	py->line_start[0] = 0;
	py->nlines = 1;
	for (size_t i = 0; i < py->len; i++) {
		if (py->src[i] != '\n' || i + 1 >= py->len)
			continue;
		TG_ALLOC_GROW(py->line_start, py->nlines + 1, alloc);
		py->line_start[py->nlines++] = (uint32_t)(i + 1);
	}
}

int tg_pyfile_parse(struct tg_pyfile **out, const char *path,
		    const char *src, size_t len)
{
	struct tg_pyfile *py = NULL;
	TSParser *parser = NULL;
	int err = 0;

	*out = NULL;
	if (memchr(src, '\0', len))
		return tg_error_set(TG_EBINARY, "'%s' contains a NUL byte",
				    path ? path : "");
	if (len > UINT32_MAX - 1)
		return tg_error_set(TG_ERROR, "'%s' is too large to parse",
				    path ? path : "");

	py = tg_xcalloc(1, sizeof(*py));
	py->path = tg_xstrdup(path ? path : "");
	py->src = tg_xmalloc(len + 1);
	memcpy(py->src, src, len);
	py->src[len] = '\0';
	py->len = len;
	index_lines(py);

	parser = ts_parser_new();
	if ((err = set_language(parser)) < 0)
		goto out;
	if (len >= 3 && !memcmp(src, "\xef\xbb\xbf", 3)) {
		/*
		 * §11: skip a UTF-8 BOM with an included range rather than
		 * a shifted copy, so byte offsets and columns stay those of
		 * the file.
		 */
		TSRange r = { { 0, 3 }, { UINT32_MAX, UINT32_MAX },
			      3, UINT32_MAX };

		ts_parser_set_included_ranges(parser, &r, 1);
	}
	py->tree = ts_parser_parse_string(parser, NULL, py->src,
					  (uint32_t)len);
	if (!py->tree) {
		err = tg_error_set(TG_ERROR, "tree-sitter failed to parse '%s'",
				   py->path);
		goto out;
	}
	py->has_errors = ts_node_has_error(ts_tree_root_node(py->tree));
	*out = py;
	py = NULL;
out:
	ts_parser_delete(parser);
	tg_pyfile_free(py);
	return err;
}

void tg_pyfile_free(struct tg_pyfile *py)
{
	if (!py)
		return;
	if (py->tree)
		ts_tree_delete(py->tree);
	free(py->path);
	free(py->src);
	free(py->line_start);
	free(py);
}

uint32_t tg_pyfile_line_of(const struct tg_pyfile *py, uint32_t offset)
{
	size_t lo = 0, hi = py->nlines;

	/* the last line whose start is <= offset */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (py->line_start[mid] <= offset)
			lo = mid;
		else
			hi = mid;
	}
	return (uint32_t)lo + 1;
}

const char *tg_pyfile_line(const struct tg_pyfile *py, uint32_t line,
			   size_t *len)
{
	size_t start, end;

	if (!line || line > py->nlines) {
		*len = 0;
		return "";
	}
	start = py->line_start[line - 1];
	end = line < py->nlines ? py->line_start[line] : py->len;
	if (end > start && py->src[end - 1] == '\n')
		end--;
	if (end > start && py->src[end - 1] == '\r')
		end--;
	*len = end - start;
	return py->src + start;
}
