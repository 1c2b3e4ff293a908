#include "txguard/common.h"
#include "txguard/error.h"
#include "txguard/pyparse.h"

#include <malloc.h>
#include <pthread.h>
#include <tree_sitter/api.h>

/* Compiled in from the pinned tree-sitter-python sources. */
const TSLanguage *tree_sitter_python(void);

static int set_language(TSParser *parser)
{
	const TSLanguage *lang = tree_sitter_python();

	if (ts_parser_set_language(parser, lang))
		return 0;
	/* A grammar of the wrong ABI must say so, not parse nothing */
	return tg_error_set(TG_ERROR,
			    "cannot load the python grammar: its ABI is %u, "
			    "this tree-sitter loads %d to %d",
			    ts_language_version(lang),
			    TREE_SITTER_MIN_COMPATIBLE_LANGUAGE_VERSION,
			    TREE_SITTER_LANGUAGE_VERSION);
}

/*
 * One parser per thread, reused for every file: a parser keeps its stack
 * and a pool of freed subtrees between parses, and making one per file
 * cost a tenth of a scan in malloc and free (scan within 1.2x
 * a parse-only pass). Freed when its thread ends; the main thread's at
 * exit.
 */
static pthread_key_t parser_key;
static pthread_once_t parser_once = PTHREAD_ONCE_INIT;

static void parser_free(void *parser)
{
	ts_parser_delete(parser);
}

static void main_parser_free(void)
{
	TSParser *parser = pthread_getspecific(parser_key);

	pthread_setspecific(parser_key, NULL);
	if (parser)
		ts_parser_delete(parser);
}

static void parser_key_make(void)
{
	if (!pthread_key_create(&parser_key, parser_free))
		atexit(main_parser_free);
}

static int thread_parser(TSParser **out)
{
	TSParser *parser;
	int err;

	pthread_once(&parser_once, parser_key_make);
	parser = pthread_getspecific(parser_key);
	if (!parser) {
		parser = ts_parser_new();
		if ((err = set_language(parser)) < 0) {
			ts_parser_delete(parser);
			return err;
		}
		pthread_setspecific(parser_key, parser);
	}
	/* no leftover of an earlier parse, no BOM range */
	ts_parser_reset(parser);
	ts_parser_set_included_ranges(parser, NULL, 0);
	*out = parser;
	return 0;
}

static uint16_t *kinds;
static uint32_t nkinds;
static pthread_once_t kinds_once = PTHREAD_ONCE_INIT;

static void init_kinds(void)
{
	static const struct {
		const char *name;
		unsigned kind;
	} table[] = {
		{ "function_definition", TG_PK_FUNCTION },
		{ "class_definition", TG_PK_CLASS },
		{ "decorated_definition", TG_PK_DECORATED },
		{ "lambda", TG_PK_LAMBDA },
		{ "with_statement", TG_PK_WITH },
		{ "list_comprehension", TG_PK_COMPREHENSION },
		{ "set_comprehension", TG_PK_COMPREHENSION },
		{ "dictionary_comprehension", TG_PK_COMPREHENSION },
		{ "generator_expression", TG_PK_COMPREHENSION },
		{ "assignment", TG_PK_ASSIGNMENT },
		{ "augmented_assignment", TG_PK_AUGASSIGN },
		{ "for_statement", TG_PK_FOR },
		{ "while_statement", TG_PK_WHILE },
		{ "as_pattern", TG_PK_AS_PATTERN },
		{ "named_expression", TG_PK_NAMED_EXPR },
		{ "delete_statement", TG_PK_DELETE },
		{ "global_statement", TG_PK_GLOBAL },
		{ "nonlocal_statement", TG_PK_GLOBAL },
		{ "import_statement", TG_PK_IMPORT },
		{ "import_from_statement", TG_PK_IMPORT_FROM },
		{ "call", TG_PK_CALL },
		{ "comment", TG_PK_COMMENT },
		{ "expression_statement", TG_PK_EXPR_STMT },
		{ "identifier", TG_PK_IDENTIFIER },
		{ "attribute", TG_PK_ATTRIBUTE },
		{ "subscript", TG_PK_SUBSCRIPT },
		{ "parenthesized_expression", TG_PK_PARENTHESIZED },
		{ "with_clause", TG_PK_WITH_CLAUSE },
		{ "with_item", TG_PK_WITH_ITEM },
		{ "keyword_argument", TG_PK_KEYWORD_ARG },
		{ "argument_list", TG_PK_ARGUMENT_LIST },
		{ "typed_parameter", TG_PK_TYPED_PARAM },
		{ "typed_default_parameter", TG_PK_TYPED_DEFAULT },
		{ "default_parameter", TG_PK_DEFAULT_PARAM },
		{ "try_statement", TG_PK_TRY },
		{ "except_clause", TG_PK_EXCEPT },
		{ "except_group_clause", TG_PK_EXCEPT_GROUP },
		{ "finally_clause", TG_PK_FINALLY },
		{ "if_statement", TG_PK_IF },
		{ "return_statement", TG_PK_RETURN },
		{ "for_in_clause", TG_PK_FOR_IN_CLAUSE },
		{ "yield", TG_PK_YIELD },
		{ "await", TG_PK_AWAIT },
		{ "tuple", TG_PK_TUPLE },
		{ "list", TG_PK_LIST },
		{ "dictionary", TG_PK_DICTIONARY },
		{ "pair", TG_PK_PAIR },
		{ "expression_list", TG_PK_EXPRESSION_LIST },
		{ "dotted_name", TG_PK_DOTTED_NAME },
		{ "relative_import", TG_PK_RELATIVE_IMPORT },
		{ "aliased_import", TG_PK_ALIASED_IMPORT },
		{ "decorator", TG_PK_DECORATOR },
		{ "type", TG_PK_TYPE },
		{ "else_clause", TG_PK_ELSE },
		{ "elif_clause", TG_PK_ELIF },
		{ "conditional_expression", TG_PK_CONDITIONAL },
		{ "not_operator", TG_PK_NOT },
		{ "list_splat", TG_PK_LIST_SPLAT },
		{ "list_splat_pattern", TG_PK_LIST_SPLAT },
		{ "dictionary_splat", TG_PK_DICT_SPLAT },
		{ "dictionary_splat_pattern", TG_PK_DICT_SPLAT },
		{ "keyword_separator", TG_PK_KW_SEPARATOR },
	};
	/* keywords: they share names with nodes ("lambda"), so apart */
	static const struct {
		const char *name;
		unsigned kind;
	} keywords[] = {
		{ "async", TG_PK_ASYNC },
		{ "from", TG_PK_FROM },
	};
	/* everything that can hold a statement (node-types.json, closed) */
	static const char *const holds[] = {
		"module",	     "block",
		"if_statement",	     "for_statement",
		"while_statement",   "try_statement",
		"with_statement",    "match_statement",
		"function_definition", "class_definition",
		"decorated_definition", "elif_clause",
		"else_clause",	     "except_clause",
		"except_group_clause", "finally_clause",
		"case_clause",
	};
	static const char *const compound[] = {
		"if_statement",	 "for_statement",  "while_statement",
		"try_statement", "with_statement", "match_statement",
	};
	const TSLanguage *lang = tree_sitter_python();

	nkinds = ts_language_symbol_count(lang);
	kinds = calloc(nkinds ? nkinds : 1, sizeof(*kinds));
	if (!kinds) {
		nkinds = 0;
		return;
	}
	for (uint32_t sym = 0; sym < nkinds; sym++) {
		const char *name = ts_language_symbol_name(lang, (TSSymbol)sym);
		TSSymbolType type =
			ts_language_symbol_type(lang, (TSSymbol)sym);
		size_t n = name ? strlen(name) : 0;
		bool simple = n > 10 && !strcmp(name + n - 10, "_statement");

		if (name && type == TSSymbolTypeAnonymous)
			for (size_t i = 0; i < TG_ARRAY_SIZE(keywords); i++)
				if (!strcmp(name, keywords[i].name))
					kinds[sym] = (uint16_t)keywords[i].kind;
		if (!name || type != TSSymbolTypeRegular)
			continue;
		for (size_t i = 0; simple && i < TG_ARRAY_SIZE(compound); i++)
			if (!strcmp(name, compound[i]))
				simple = false;
		if (simple)
			kinds[sym] = TG_PK_SIMPLE;
		for (size_t i = 0; i < TG_ARRAY_SIZE(table); i++)
			if (!strcmp(name, table[i].name))
				kinds[sym] |= (uint16_t)table[i].kind;
		for (size_t i = 0; i < TG_ARRAY_SIZE(holds); i++)
			if (!strcmp(name, holds[i]))
				kinds[sym] |= TG_PK_HOLDS;
		for (size_t i = 0; i < TG_ARRAY_SIZE(compound); i++)
			if (!strcmp(name, compound[i]))
				kinds[sym] |= TG_PK_COMPOUND;
		if (!strcmp(name, "function_definition") ||
		    !strcmp(name, "class_definition") ||
		    !strcmp(name, "decorated_definition"))
			kinds[sym] |= TG_PK_COMPOUND;
	}
}

unsigned tg_pyparse_kind(unsigned symbol)
{
	pthread_once(&kinds_once, init_kinds);
	return symbol < nkinds ? kinds[symbol] : TG_PK_OTHER;
}

static uint16_t field_ids[TG_F_COUNT];
static pthread_once_t fields_once = PTHREAD_ONCE_INIT;

static void init_fields(void)
{
	static const char *const names[TG_F_COUNT] = {
		[TG_F_ALIAS] = "alias",
		[TG_F_ARGUMENTS] = "arguments",
		[TG_F_ATTRIBUTE] = "attribute",
		[TG_F_BODY] = "body",
		[TG_F_CONDITION] = "condition",
		[TG_F_FUNCTION] = "function",
		[TG_F_LEFT] = "left",
		[TG_F_NAME] = "name",
		[TG_F_OBJECT] = "object",
		[TG_F_PARAMETERS] = "parameters",
		[TG_F_RIGHT] = "right",
		[TG_F_TYPE] = "type",
		[TG_F_VALUE] = "value",
		[TG_F_DEFINITION] = "definition",
		[TG_F_MODULE_NAME] = "module_name",
		[TG_F_CONSEQUENCE] = "consequence",
		[TG_F_ALTERNATIVE] = "alternative",
		[TG_F_ARGUMENT] = "argument",
	};
	const TSLanguage *lang = tree_sitter_python();

	for (size_t i = 0; i < TG_F_COUNT; i++)
		field_ids[i] = ts_language_field_id_for_name(
			lang, names[i], (uint32_t)strlen(names[i]));
}

unsigned tg_pyparse_field(enum tg_pyfield field)
{
	pthread_once(&fields_once, init_fields);
	return (unsigned)field < TG_F_COUNT ? field_ids[field] : 0;
}

static void index_lines(struct tg_pyfile *py)
{
	const char *p = py->src, *end = py->src + py->len;
	size_t alloc = 0;

	/* lines end at \n only, as tree-sitter counts rows; \r stays in the line */
	TG_ALLOC_GROW(py->line_start, 1, alloc);
	py->line_start[0] = 0;
	py->nlines = 1;
	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) &&
	       ++p < end) {
		TG_ALLOC_GROW(py->line_start, py->nlines + 1, alloc);
		py->line_start[py->nlines++] = (uint32_t)(p - py->src);
	}
}

/*
 * Bounds, all of them on the input: the configured maximum file size
 * (the engine's maxFileSize) bounds the bytes, tree-sitter's parse is
 * close to linear in them, and Debian's tree-sitter 0.20.7 double-frees
 * when it deletes a tree of definitions nested ~14,000 deep (fuzz-analyze
 * found it; the crash is in the library), so a file indented deeper than
 * any real code is skipped before parsing. There is no time budget:
 * whether a file is analysed never depends on how busy the machine is.
 */
#define TG_MAX_INDENT 4096

/*
 * Lines ended by a lone CR (old Mac files) are one line to the grammar,
 * which recovers from errors over a whole line in time quadratic in its
 * length: 100 KiB take a second, 2 MiB several minutes. Such a file
 * whose longest line (by LF) is longer than this is skipped.
 */
#define TG_MAX_CR_LINE ((size_t)64 << 10)

/* A lone CR ends a line and the longest LF-ended run passes the bound. */
static bool long_cr_line(const char *src, size_t len)
{
	const char *p = src, *end = src + len, *cr;
	size_t longest = 0;
	bool lone = false;

	if (len <= TG_MAX_CR_LINE || !(cr = memchr(src, '\r', len)))
		return false;
	for (; cr; cr = memchr(cr + 1, '\r', (size_t)(end - cr - 1)))
		if (cr + 1 == end || cr[1] != '\n') {
			lone = true;
			break;
		}
	if (!lone)
		return false;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);

		if (n > longest)
			longest = n;
		p = nl ? nl + 1 : end;
	}
	return longest > TG_MAX_CR_LINE;
}

static bool too_deep(const char *src, size_t len)
{
	size_t indent = 0;
	bool at_start = true;

	if (len <= TG_MAX_INDENT)
		return false;
	if (!memchr(src, '\r', len)) {
		/* the usual file: look at each line's start only */
		const char *p = src, *end = src + len;

		while (p) {
			for (indent = 0; p < end && (*p == ' ' || *p == '\t' ||
						   *p == '\f');
			     p++)
				if (++indent > TG_MAX_INDENT)
					return true;
			p = memchr(p, '\n', (size_t)(end - p));
			if (p)
				p++;
		}
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		char c = src[i];

		if (c == '\n' || c == '\r') {
			at_start = true;
			indent = 0;
		} else if (at_start && (c == ' ' || c == '\t' || c == '\f')) {
			if (++indent > TG_MAX_INDENT)
				return true;
		} else {
			at_start = false;
		}
	}
	return false;
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

	if (too_deep(src, len))
		return tg_error_set(TG_ETOODEEP,
				    "'%s' is indented more than %d columns deep",
				    path ? path : "", TG_MAX_INDENT);
	if (long_cr_line(src, len))
		return tg_error_set(TG_ETOODEEP,
				    "'%s' ends its lines with a lone CR, which the parser reads as one line longer than %zu KiB",
				    path ? path : "", TG_MAX_CR_LINE >> 10);

	py = tg_xcalloc(1, sizeof(*py));
	py->path = tg_xstrdup(path ? path : "");
	py->src = tg_xmalloc(len + 1);
	memcpy(py->src, src, len);
	py->src[len] = '\0';
	py->len = len;
	index_lines(py);

	if ((err = thread_parser(&parser)) < 0)
		goto out;
	if (len >= 3 && !memcmp(src, "\xef\xbb\xbf", 3)) {
		/*
		 * Skip a UTF-8 BOM with an included range rather than
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
		err = tg_error_set(TG_ERROR, "tree-sitter could not parse '%s'",
				   py->path);
		goto out;
	}
	py->has_errors = ts_node_has_error(ts_tree_root_node(py->tree));
	*out = py;
	py = NULL;
out:
	tg_pyfile_free(py);
	return err;
}

/*
 * A tree of a big file takes megabytes, and the allocator keeps what it
 * frees for later: every thread would then hold the most its biggest
 * parse ever took (two threads 11 MiB each on the standard library).
 * Handing it back after a big file keeps the peak at what is parsed at
 * once (memory bounded by the largest file, not the repository).
 */
void tg_pyfile_free(struct tg_pyfile *py)
{
	bool big;

	if (!py)
		return;
	big = py->len >= TG_BIG_PARSE;
	if (py->tree)
		ts_tree_delete(py->tree);
	free(py->path);
	free(py->src);
	free(py->line_start);
	free(py);
	if (big)
		malloc_trim(0);
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
