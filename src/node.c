#include "txguard/common.h"
#include "txguard/node.h"
#include "txguard/pyparse.h"

TSNode tg_node_child(TSNode node, unsigned field)
{
	return ts_node_child_by_field_id(node,
					 (TSFieldId)tg_pyparse_field(field));
}

TSNode tg_node_unparen(TSNode n)
{
	while (tg_node_is(n, TG_PK_PARENTHESIZED) &&
	       ts_node_named_child_count(n) == 1)
		n = ts_node_named_child(n, 0);
	return n;
}

const char *tg_node_text(const struct tg_pyfile *py, TSNode node,
			 size_t *len)
{
	uint32_t s = ts_node_start_byte(node), e = ts_node_end_byte(node);

	if (e > py->len)
		e = (uint32_t)py->len;
	if (s > e)
		s = e;
	*len = e - s;
	return py->src + s;
}

char *tg_node_strdup(const struct tg_pyfile *py, TSNode node)
{
	size_t len;
	const char *s = tg_node_text(py, node, &len);

	return tg_xstrndup(s, len);
}

const char *tg_node_last_part(const char *s, size_t len, size_t *n)
{
	const char *l = s + len;

	while (l > s && l[-1] != '.')
		l--;
	if (n)
		*n = (size_t)(s + len - l);
	return l;
}

bool tg_node_callee_is(const struct tg_pyfile *py, TSNode call,
		       const char *name)
{
	TSNode fn;
	const char *s, *l;
	size_t len, n;

	if (!tg_node_is(call, TG_PK_CALL))
		return false;
	fn = tg_node_unparen(tg_node_child(call, TG_F_FUNCTION));
	if (tg_node_is(fn, TG_PK_ATTRIBUTE))
		fn = tg_node_child(fn, TG_F_ATTRIBUTE);
	if (!tg_node_is(fn, TG_PK_IDENTIFIER))
		return false;
	s = tg_node_text(py, fn, &len);
	l = tg_node_last_part(s, len, &n);
	return tg_node_text_is(l, n, name);
}

/* ts_builtin_sym_error: an error node in every grammar */
#define TG_SYM_ERROR ((TSSymbol)-1)

static bool holds_error(TSNode n)
{
	for (uint32_t i = 0; i < ts_node_child_count(n); i++)
		if (ts_node_has_error(ts_node_child(n, i)))
			return true;
	return false;
}

bool tg_node_find_error(TSNode root, bool innermost, TSNode *out)
{
	TSTreeCursor cur = ts_tree_cursor_new(root);
	bool found = false;

	for (;;) {
		TSNode n = ts_tree_cursor_current_node(&cur);

		if (ts_node_is_missing(n) ||
		    (ts_node_symbol(n) == TG_SYM_ERROR &&
		     !(innermost && holds_error(n)))) {
			*out = n;
			found = true;
			break;
		}
		if (ts_node_has_error(n) && ts_tree_cursor_goto_first_child(&cur))
			continue;
		while (!ts_tree_cursor_goto_next_sibling(&cur))
			if (!ts_tree_cursor_goto_parent(&cur))
				goto out;
	}
out:
	ts_tree_cursor_delete(&cur);
	return found;
}

bool tg_node_next_arg(TSNode args, uint32_t *i, struct tg_arg *arg)
{
	uint32_t cnt = ts_node_named_child_count(args);

	while (*i < cnt) {
		TSNode k = ts_node_named_child(args, (*i)++);
		unsigned kind = tg_node_kind(k);

		if (kind == TG_PK_LIST_SPLAT || kind == TG_PK_DICT_SPLAT) {
			arg->after_splat = true;
			continue;
		}
		if (kind == TG_PK_COMMENT)
			continue;
		arg->node = k;
		if (kind == TG_PK_KEYWORD_ARG) {
			arg->keyword = tg_node_child(k, TG_F_NAME);
			arg->value = tg_node_child(k, TG_F_VALUE);
			arg->pos = -1;
		} else {
			arg->keyword = (TSNode){ 0 };
			arg->value = k;
			arg->pos = arg->npos++;
		}
		return true;
	}
	return false;
}
