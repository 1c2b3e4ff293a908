/**
 * pyparse.h: one Python file parsed with tree-sitter-python.
 *
 * A tg_pyfile owns a copy of the bytes, the syntax tree and a line index.
 * TSNodes and text slices taken from it borrow from it and die with it.
 */
#ifndef TXGUARD_PYPARSE_H
#define TXGUARD_PYPARSE_H

#include "txguard/common.h"

struct TSTree;

/*
 * Source this big takes megabytes to parse: tg_pyfile_free() hands the
 * memory back to the system after one, and the owner index's threads
 * parse one at a time (memory bounded by the largest file).
 */
#define TG_BIG_PARSE ((size_t)128 << 10)

struct tg_pyfile {
	char *path;         /* as given, owned */
	char *src;          /* the bytes, owned, NUL-terminated at len */
	size_t len;
	struct TSTree *tree;
	uint32_t *line_start; /* byte offset of each line (0-based index) */
	size_t nlines;
	bool has_errors;      /* the tree contains ERROR or MISSING nodes */
};

/**
 * Parse `len` bytes as Python. A NUL byte makes the blob binary:
 * TG_EBINARY, nothing allocated. Syntax errors are not an error: the tree
 * is recovered and has_errors is set. *out is freed with tg_pyfile_free().
 * Errors: TG_EBINARY, TG_ETOODEEP (indented deeper than any real code,
 * or lines ended by a lone CR in one line too long to parse: skip the
 * file with a notice), TG_ERROR (the
 * grammar failed to load: the message names the ABI versions).
 */
int tg_pyfile_parse(struct tg_pyfile **out, const char *path,
		    const char *src, size_t len);
void tg_pyfile_free(struct tg_pyfile *py);

/** Line `line` (1-based) without its end of line; *len receives the length. */
const char *tg_pyfile_line(const struct tg_pyfile *py, uint32_t line,
			   size_t *len);

/**
 * Node kinds the analysis cares about, by grammar symbol (ts_node_symbol),
 * so walks compare small integers instead of type names: the one way any
 * part of txguard asks what a node is (pynode.h). Named nodes only, but
 * for the two keywords TG_PK_ASYNC and TG_PK_FROM. TG_PK_SIMPLE is or-ed
 * in for simple statements (nothing in them can hold a def or a with
 * block), TG_PK_HOLDS for the nodes that can hold statements: in a tree
 * without errors, no other node has a statement below it; TG_PK_COMPOUND
 * for compound statements and definitions.
 */
enum tg_pykind {
	TG_PK_OTHER = 0,
	TG_PK_FUNCTION,      /* function_definition */
	TG_PK_CLASS,         /* class_definition */
	TG_PK_DECORATED,     /* decorated_definition */
	TG_PK_LAMBDA,
	TG_PK_WITH,          /* with_statement */
	TG_PK_COMPREHENSION, /* list/set/dict comprehension, generator */
	TG_PK_ASSIGNMENT,
	TG_PK_AUGASSIGN,
	TG_PK_FOR,           /* for_statement (async for too) */
	TG_PK_WHILE,         /* while_statement */
	TG_PK_AS_PATTERN,
	TG_PK_NAMED_EXPR,    /* walrus */
	TG_PK_DELETE,
	TG_PK_GLOBAL,        /* global and nonlocal */
	TG_PK_IMPORT,
	TG_PK_IMPORT_FROM,
	TG_PK_CALL,
	TG_PK_COMMENT,
	TG_PK_EXPR_STMT,     /* expression_statement (an assignment's parent) */
	TG_PK_IDENTIFIER,
	TG_PK_ATTRIBUTE,
	TG_PK_SUBSCRIPT,
	TG_PK_PARENTHESIZED, /* parenthesized_expression */
	TG_PK_WITH_CLAUSE,
	TG_PK_WITH_ITEM,
	TG_PK_KEYWORD_ARG,   /* keyword_argument */
	TG_PK_ARGUMENT_LIST,
	TG_PK_TYPED_PARAM,   /* typed_parameter */
	TG_PK_TYPED_DEFAULT, /* typed_default_parameter */
	TG_PK_DEFAULT_PARAM, /* default_parameter */
	TG_PK_TRY,           /* try_statement */
	TG_PK_EXCEPT,        /* except_clause */
	TG_PK_EXCEPT_GROUP,  /* except_group_clause */
	TG_PK_FINALLY,       /* finally_clause */
	TG_PK_IF,            /* if_statement */
	TG_PK_RETURN,        /* return_statement */
	TG_PK_FOR_IN_CLAUSE, /* of a comprehension */
	TG_PK_YIELD,
	TG_PK_AWAIT,
	TG_PK_TUPLE,
	TG_PK_LIST,
	TG_PK_DICTIONARY,
	TG_PK_PAIR,          /* key: value in a dictionary */
	TG_PK_EXPRESSION_LIST,
	TG_PK_DOTTED_NAME,
	TG_PK_RELATIVE_IMPORT,
	TG_PK_ALIASED_IMPORT,
	TG_PK_DECORATOR,
	TG_PK_TYPE,          /* a parameter's annotation */
	TG_PK_ASYNC,         /* the keyword */
	TG_PK_FROM,          /* the keyword (`yield from`) */
	TG_PK_ELSE,          /* else_clause */
	TG_PK_ELIF,          /* elif_clause */
	TG_PK_CONDITIONAL,   /* conditional_expression: `a if c else b` */
	TG_PK_NOT,           /* not_operator */
	TG_PK_LIST_SPLAT,    /* `*x` in a call or a parameter list */
	TG_PK_DICT_SPLAT,    /* `**x` in a call or a parameter list */
	TG_PK_KW_SEPARATOR,  /* a bare `*` in a parameter list */
	TG_PK_COUNT,
	TG_PK_MASK = 0xff,
	TG_PK_SIMPLE = 0x100,
	TG_PK_HOLDS = 0x200, /* can hold statements: module, block, compound
				statements and their clauses, definitions */
	TG_PK_COMPOUND = 0x400, /* if/for/while/try/with/match, definitions */
};

/** The kind of grammar symbol `symbol` (a TSSymbol). */
unsigned tg_pyparse_kind(unsigned symbol);

/** The grammar's fields the analysis asks for. */
enum tg_pyfield {
	TG_F_ALIAS,
	TG_F_ARGUMENTS,
	TG_F_ATTRIBUTE,
	TG_F_BODY,
	TG_F_CONDITION,
	TG_F_FUNCTION,
	TG_F_LEFT,
	TG_F_NAME,
	TG_F_OBJECT,
	TG_F_PARAMETERS,
	TG_F_RIGHT,
	TG_F_TYPE,
	TG_F_VALUE,
	TG_F_DEFINITION,
	TG_F_MODULE_NAME,
	TG_F_CONSEQUENCE,
	TG_F_ALTERNATIVE,
	TG_F_ARGUMENT,
	TG_F_COUNT,
};

/**
 * The field id (a TSFieldId) of `field`, looked up once: asking by name
 * (ts_node_child_by_field_name) searches the grammar's field names on
 * every call.
 */
unsigned tg_pyparse_field(enum tg_pyfield field);

#endif
