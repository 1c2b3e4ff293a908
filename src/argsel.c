#include "txguard/common.h"
#include "txguard/argsel.h"
#include "txguard/node.h"

#include <strings.h>

/* ---- parameters ------------------------------------------------------- */

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && !strncasecmp(s + len - n, suffix, n);
}

bool tg_session_name(const char *name, size_t len)
{
	size_t n;
	const char *l = tg_node_last_part(name, len, &n);

	while (n && *l == '_') {
		l++;
		n--;
	}
	if (!n)
		return false;
	return tg_node_text_is(l, n, "sess") || tg_node_text_is(l, n, "db") ||
	       tg_node_text_is(l, n, "uow") || tg_node_text_is(l, n, "conn") ||
	       ends_with(l, n, "session") || ends_with(l, n, "connection") ||
	       ends_with(l, n, "_db") || ends_with(l, n, "_conn");
}

/* A parameter name or annotation that says "a session". */
static bool session_like(const char *name, const struct tg_pyfile *py,
			 TSNode type)
{
	size_t tlen;
	const char *t;

	if (tg_session_name(name, strlen(name)))
		return true;
	if (ts_node_is_null(type))
		return false;
	t = tg_node_text(py, type, &tlen);
	return memmem(t, tlen, "Session", 7) ||
	       memmem(t, tlen, "Connection", 10);
}

static void add_param(struct tg_params *p, size_t *alloc, char *name,
		      int32_t index, char dflt, bool plain, bool session)
{
	TG_ALLOC_GROW(p->v, p->nr + 1, *alloc);
	p->v[p->nr].name = name;
	p->v[p->nr].index = index;
	p->v[p->nr].plain = plain;
	p->v[p->nr].session_like = session;
	p->v[p->nr++].dflt = dflt;
}

/* An annotation that names a value type: `int`, `str | None`, `UUID`. */
static bool plain_type(const struct tg_pyfile *py, TSNode type)
{
	static const char *const plain[] = {
		"int",	"str",	   "bool", "float", "bytes",   "dict",
		"list", "set",	   "tuple", "UUID", "Decimal", "datetime",
		"date", "Optional[int]", "Optional[str]",
	};
	size_t len, n = 0;
	const char *s;

	if (ts_node_is_null(type))
		return false;
	s = tg_node_text(py, type, &len);
	while (n < len && s[n] != ' ' && s[n] != '|')
		n++;
	for (size_t i = 0; i < TG_ARRAY_SIZE(plain); i++)
		if (tg_node_text_is(s, n, plain[i]))
			return true;
	return false;
}

void tg_params_read(struct tg_params *out, const struct tg_pyfile *py,
		    TSNode func, bool drop_first)
{
	TSNode params = tg_node_child(func, TG_F_PARAMETERS);
	size_t alloc = 0;
	int32_t pos = 0;
	bool kwonly = false, dropped = !drop_first;

	memset(out, 0, sizeof(*out));
	for (uint32_t i = 0, cnt = ts_node_named_child_count(params); i < cnt;
	     i++) {
		TSNode k = ts_node_named_child(params, i);
		unsigned kind = tg_node_kind(k);
		TSNode name = { 0 }, value = { 0 };
		char dflt = '-', *nm;
		bool plain = plain_type(py, tg_node_child(k, TG_F_TYPE));
		int t;

		if (kind == TG_PK_LIST_SPLAT || kind == TG_PK_KW_SEPARATOR) {
			kwonly = true;
			continue;
		}
		if (kind == TG_PK_IDENTIFIER) {
			name = k;
		} else if (kind == TG_PK_TYPED_PARAM) {
			name = ts_node_named_child(k, 0);
			if (tg_node_is(name, TG_PK_LIST_SPLAT))
				kwonly = true;
			if (!tg_node_is(name, TG_PK_IDENTIFIER))
				continue;
		} else if (kind == TG_PK_DEFAULT_PARAM ||
			   kind == TG_PK_TYPED_DEFAULT) {
			name = tg_node_child(k, TG_F_NAME);
			value = tg_node_child(k, TG_F_VALUE);
			if (!tg_node_is(name, TG_PK_IDENTIFIER))
				continue;
		} else {
			continue; /* `/`, **kwargs */
		}
		if (!dropped) {
			dropped = true;
			continue;
		}
		if (!ts_node_is_null(value) &&
		    (t = tg_argsel_truth(py, value)) >= 0)
			dflt = t ? 't' : 'f';
		nm = tg_node_strdup(py, name);
		add_param(out, &alloc, nm, kwonly ? -1 : pos++, dflt, plain,
			  session_like(nm, py, tg_node_child(k, TG_F_TYPE)));
	}
}

void tg_params_release(struct tg_params *p)
{
	for (size_t i = 0; i < p->nr; i++)
		free(p->v[i].name);
	free(p->v);
	memset(p, 0, sizeof(*p));
}

const struct tg_param *tg_params_find(const struct tg_params *p,
				      const char *name, size_t len)
{
	for (size_t i = 0; p && i < p->nr; i++)
		if (tg_node_text_is(name, len, p->v[i].name))
			return &p->v[i];
	return NULL;
}

/* ---- literals --------------------------------------------------------- */

/* The truthiness of a string literal's text, or -1 (an f-string). */
static int string_truth(const char *s, size_t len)
{
	size_t i = 0, q;

	while (i < len && strchr("rRbBuU", s[i]))
		i++;
	if (i < len && (s[i] == 'f' || s[i] == 'F'))
		return -1;
	if (i >= len || (s[i] != '"' && s[i] != '\''))
		return -1;
	q = len - i >= 6 && s[i + 1] == s[i] && s[i + 2] == s[i] ? 3 : 1;
	return len - i > 2 * q;
}

int tg_argsel_truth(const struct tg_pyfile *py, TSNode value)
{
	size_t len;
	const char *s;
	bool zero = true;

	value = tg_node_unparen(value);
	if (ts_node_is_null(value))
		return -1;
	s = tg_node_text(py, value, &len);
	if (tg_node_text_is(s, len, "True"))
		return 1;
	if (tg_node_text_is(s, len, "False") || tg_node_text_is(s, len, "None"))
		return 0;
	if (tg_node_text_is(s, len, "[]") || tg_node_text_is(s, len, "{}") ||
	    tg_node_text_is(s, len, "()"))
		return 0;
	if (len && (s[0] == '"' || s[0] == '\'' || strchr("rRbBuUfF", s[0])))
		return string_truth(s, len);
	if (!len || !(s[0] >= '0' && s[0] <= '9'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c >= '1' && c <= '9')
			zero = false;
		else if (c != '0' && c != '.' && c != '_')
			return -1; /* hex, exponents, suffixes: not worth it */
	}
	return !zero;
}

/* ---- guards ----------------------------------------------------------- */

char *tg_argsel_cond(const struct tg_pyfile *py, TSNode cond, bool negate,
		     const struct tg_params *params)
{
	const struct tg_param *p;
	const char *s;
	size_t len;

	cond = tg_node_unparen(cond);
	if (tg_node_is(cond, TG_PK_NOT)) {
		cond = tg_node_unparen(tg_node_child(cond, TG_F_ARGUMENT));
		negate = !negate;
	}
	if (!tg_node_is(cond, TG_PK_IDENTIFIER))
		return NULL;
	s = tg_node_text(py, cond, &len);
	if (!(p = tg_params_find(params, s, len)))
		return NULL;
	return tg_xasprintf("%s%s:%d:%c", negate ? "!" : "", p->name,
			    (int)p->index, p->dflt);
}

/* Whether a block's last statement leaves: `return ...` or `raise ...`. */
static bool block_leaves(const struct tg_pyfile *py, TSNode block)
{
	uint32_t n = ts_node_named_child_count(block);
	TSNode last = { 0 };
	const char *s;
	size_t len;

	while (n-- > 0) {
		last = ts_node_named_child(block, n);
		if (!tg_node_is(last, TG_PK_COMMENT))
			break;
	}
	if (ts_node_is_null(last))
		return false;
	if (tg_node_is(last, TG_PK_RETURN))
		return true;
	s = tg_node_text(py, last, &len);
	return len >= 5 && !memcmp(s, "raise", 5) &&
	       (len == 5 || s[5] == ' ' || s[5] == '\t' || s[5] == '(');
}

char *tg_argsel_guard(const struct tg_pyfile *py, TSNode node, TSNode func,
		      const struct tg_params *params)
{
	TSNode child = node, parent;
	char *g;

	if (!params || !params->nr)
		return NULL;
	while (!ts_node_is_null(parent = ts_node_parent(child)) &&
	       !ts_node_eq(parent, func)) {
		unsigned k = tg_node_kind(parent);

		if (k == TG_PK_FUNCTION || k == TG_PK_LAMBDA ||
		    k == TG_PK_CLASS)
			return NULL;
		if (k == TG_PK_IF) {
			TSNode cond = tg_node_child(parent, TG_F_CONDITION);

			g = NULL;
			if (ts_node_eq(child,
				       tg_node_child(parent, TG_F_CONSEQUENCE)))
				g = tg_argsel_cond(py, cond, false, params);
			else if (tg_node_is(child, TG_PK_ELSE))
				g = tg_argsel_cond(py, cond, true, params);
			if (g)
				return g;
		}
		/* `if no_commit: return` earlier in the same block */
		for (TSNode s = ts_node_prev_named_sibling(child);
		     !ts_node_is_null(s); s = ts_node_prev_named_sibling(s)) {
			if (!tg_node_is(s, TG_PK_IF) ||
			    !ts_node_is_null(
				    tg_node_child(s, TG_F_ALTERNATIVE)) ||
			    !block_leaves(py, tg_node_child(
						      s, TG_F_CONSEQUENCE)))
				continue;
			g = tg_argsel_cond(py, tg_node_child(s, TG_F_CONDITION),
					   true, params);
			if (g)
				return g;
		}
		child = parent;
	}
	return NULL;
}

/* ---- at a call -------------------------------------------------------- */

struct guard {
	bool negate;
	const char *name;
	size_t nlen;
	long index;
	char dflt;
};

static bool parse_guard(struct guard *g, const char *s)
{
	const char *c2;
	char *end;

	g->name = tg_argsel_guard_param(s, &g->nlen, &g->negate);
	if (g->name[g->nlen] != ':')
		return false;
	g->index = strtol(g->name + g->nlen + 1, &end, 10);
	c2 = end;
	if (*c2 != ':' || !c2[1])
		return false;
	g->dflt = c2[1];
	return true;
}

static bool selects(const struct guard *g, int truth)
{
	return truth >= 0 && (truth == 1) != g->negate;
}

const char *tg_argsel_guard_param(const char *guard, size_t *len,
				  bool *negate)
{
	const char *colon;

	*negate = *guard == '!';
	guard += *negate;
	colon = strchr(guard, ':');
	*len = colon ? (size_t)(colon - guard) : strlen(guard);
	return guard;
}

bool tg_argsel_by_default(const char *guard)
{
	struct guard g;

	if (!guard)
		return true;
	if (!parse_guard(&g, guard))
		return false;
	return selects(&g, g.dflt == 't' ? 1 : g.dflt == 'f' ? 0 : -1);
}

bool tg_argsel_selects(const struct tg_pyfile *py, TSNode call,
		       const char *guard)
{
	TSNode args = tg_node_child(call, TG_F_ARGUMENTS);
	TSNode value = { 0 };
	struct tg_arg a = { 0 };
	struct guard g;
	uint32_t i = 0;

	if (!guard)
		return true;
	if (!parse_guard(&g, guard))
		return false;
	while (tg_node_next_arg(args, &i, &a)) {
		size_t len;
		const char *s;

		if (a.pos < 0) {
			s = tg_node_text(py, a.keyword, &len);
			if (len == g.nlen && !memcmp(s, g.name, len))
				value = a.value;
		} else if (!a.after_splat && g.index >= 0 && a.pos == g.index) {
			value = a.value;
		}
	}
	if (!ts_node_is_null(value))
		return selects(&g, tg_argsel_truth(py, value));
	if (a.after_splat)
		return false; /* *args, **kwargs may pass it */
	return tg_argsel_by_default(guard);
}
