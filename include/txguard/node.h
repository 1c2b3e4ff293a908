/**
 * node.h: the small questions every walk asks of a syntax node: its kind
 * (enum tg_pykind, pyparse.h: integers, never type names), a field's
 * child, the node without parentheses, its text.
 *
 * Only files that walk trees include it: it pulls in tree-sitter.
 */
#ifndef TXGUARD_NODE_H
#define TXGUARD_NODE_H

#include "txguard/common.h"
#include "txguard/pyparse.h"

#include <tree_sitter/api.h>

/** The kind of `n` (enum tg_pykind, flags dropped); TG_PK_OTHER if null. */
static inline unsigned tg_node_kind(TSNode n)
{
	return ts_node_is_null(n) ? TG_PK_OTHER :
				    tg_pyparse_kind(ts_node_symbol(n)) &
					    TG_PK_MASK;
}

/** Whether `n` is not null and of kind `kind`. */
static inline bool tg_node_is(TSNode n, unsigned kind)
{
	return tg_node_kind(n) == kind && !ts_node_is_null(n);
}

/** The child in `field` (enum tg_pyfield), or a null node. */
TSNode tg_node_child(TSNode node, unsigned field);

/**
 * Whether the field id `id` (ts_tree_cursor_current_field_id(); 0 for
 * none) is `field` (enum tg_pyfield).
 */
static inline bool tg_node_field_is(unsigned id, unsigned field)
{
	return id && id == tg_pyparse_field(field);
}

/** `n` without the parentheses around it: ((x)) -> x. */
TSNode tg_node_unparen(TSNode n);

/**
 * The node's source text in `py` (borrowed, not NUL-terminated), *len
 * its size.
 */
const char *tg_node_text(const struct tg_pyfile *py, TSNode node,
			 size_t *len);

/** The node's text as a fresh NUL-terminated string. */
char *tg_node_strdup(const struct tg_pyfile *py, TSNode node);

/** Whether the callee of `call` (a name, dotted or not) ends in `name`. */
bool tg_node_callee_is(const struct tg_pyfile *py, TSNode call,
		       const char *name);

/**
 * The last dotted part of `s` (`len` bytes); *n gets its length (`n`
 * may be NULL).
 */
const char *tg_node_last_part(const char *s, size_t len, size_t *n);

/** Whether the `len` bytes at `s` are the string `lit`. */
static inline bool tg_node_text_is(const char *s, size_t len,
				   const char *lit)
{
	return len == strlen(lit) && !memcmp(s, lit, len);
}

/** Whether `async` starts the statement `n` (async def / with / for). */
static inline bool tg_node_is_async(TSNode n)
{
	return ts_node_child_count(n) &&
	       tg_node_kind(ts_node_child(n, 0)) == TG_PK_ASYNC;
}

/**
 * The first node under `root`, depth first (iteratively), that is a
 * missing token or an error node; with `innermost`, an error node that
 * holds no other error. Works on a tree of any grammar. False if none.
 */
bool tg_node_find_error(TSNode root, bool innermost, TSNode *out);

/** One argument of a call, as tg_node_next_arg() gives them. */
struct tg_arg {
	TSNode node;     /* the argument as written (`x`, `k=x`) */
	TSNode value;    /* its value (`x`) */
	TSNode keyword;  /* a keyword argument's name, else a null node */
	long pos;        /* a positional one's index, else -1 */
	bool after_splat; /* a `*args` or `**kwargs` comes before it */
	long npos;       /* positional arguments so far */
};

/**
 * The next argument after index *i of `args` (an argument list), comments
 * and splats skipped (a splat marks what follows it): false at the end.
 * Start with *i = 0 and a zeroed *arg.
 */
bool tg_node_next_arg(TSNode args, uint32_t *i, struct tg_arg *arg);

#endif
