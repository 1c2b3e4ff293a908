#include "txguard/common.h"
#include "txguard/analyze.h"
#include "txguard/analyze_rule.h"
#include "txguard/callee.h"
#include "txguard/finding.h"
#include "txguard/node.h"
#include "txguard/owner_table.h"
#include "txguard/pyparse.h"

/*
 * TX002 unmanaged-session: `s = factory()` whose session is neither
 * managed by `with` / `async with`, nor closed in a `finally` that covers
 * its use, nor handed to the caller. The walk (analyze.c) has already
 * recognised the binding (a TG_OWNED_CREATED entry); this file scans the
 * rest of the binding's scope once to see what becomes of the name.
 */

/* Is `n` the identifier `name`? */
static bool name_is(const struct tg_actx *cx, TSNode n, const char *name)
{
	size_t len;
	const char *s;

	if (!tg_node_is(n, TG_PK_IDENTIFIER))
		return false;
	s = tg_node_text(cx->py, n, &len);
	return len == strlen(name) && !memcmp(s, name, len);
}

/* `name.ATTR` */
static bool is_attr_of(const struct tg_actx *cx, TSNode n, const char *name,
		       const char *attr)
{
	TSNode a;
	size_t len;
	const char *s;

	if (!tg_node_is(n, TG_PK_ATTRIBUTE) ||
	    !name_is(cx, tg_node_child(n, TG_F_OBJECT), name))
		return false;
	a = tg_node_child(n, TG_F_ATTRIBUTE);
	if (ts_node_is_null(a))
		return false;
	s = tg_node_text(cx->py, a, &len);
	return len == strlen(attr) && !memcmp(s, attr, len);
}

static bool is_scope(TSNode n)
{
	unsigned kind = tg_node_kind(n);

	return kind == TG_PK_FUNCTION || kind == TG_PK_CLASS ||
	       kind == TG_PK_LAMBDA;
}

/* Does the subtree call `name.close()` (nested scopes aside)? */
static bool closes(const struct tg_actx *cx, TSNode root, const char *name)
{
	TSTreeCursor c = ts_tree_cursor_new(root);
	bool yes = false;

	for (;;) {
		TSNode n = ts_tree_cursor_current_node(&c);
		bool descend = !is_scope(n);

		if (tg_node_is(n, TG_PK_CALL) &&
		    is_attr_of(cx, tg_node_child(n, TG_F_FUNCTION),
			       name, "close")) {
			yes = true;
			break;
		}
		if (!tg_cursor_next(&c, descend))
			break;
	}
	ts_tree_cursor_delete(&c);
	return yes;
}

static TSNode finally_of(TSNode try_stmt)
{
	uint32_t n = ts_node_named_child_count(try_stmt);

	for (uint32_t i = 0; i < n; i++) {
		TSNode ch = ts_node_named_child(try_stmt, i);

		if (tg_node_is(ch, TG_PK_FINALLY))
			return ch;
	}
	return (TSNode){ 0 };
}

static bool finally_closes(const struct tg_actx *cx, TSNode try_stmt,
			   const char *name)
{
	TSNode fin = finally_of(try_stmt);

	return !ts_node_is_null(fin) && closes(cx, fin, name);
}

/* Is a constructor-looking callee (`Repository(...)`) called? */
static bool constructor_call(const struct tg_actx *cx, TSNode call)
{
	TSNode fn = tg_node_unparen(tg_node_child(call, TG_F_FUNCTION));
	size_t len;
	const char *s;

	if (ts_node_is_null(fn))
		return false;
	if (tg_node_is(fn, TG_PK_ATTRIBUTE))
		fn = tg_node_child(fn, TG_F_ATTRIBUTE);
	if (!tg_node_is(fn, TG_PK_IDENTIFIER))
		return false;
	s = tg_node_text(cx->py, fn, &len);
	return len && s[0] >= 'A' && s[0] <= 'Z';
}

/*
 * Does a returned or yielded value hand the session to the caller:
 * the name itself, an element of a tuple or list, a dict value, or an
 * argument of a constructor (`return UnitOfWork(session)`)? A method
 * call on it (`return s.execute(q).all()`) or a helper that merely uses
 * it does not.
 */
static bool hands_over(const struct tg_actx *cx, TSNode v, const char *name,
		       int depth)
{
	unsigned t;
	uint32_t n;

	v = tg_node_unparen(v);
	if (ts_node_is_null(v) || depth > 4)
		return false;
	if (name_is(cx, v, name))
		return true;
	t = tg_node_kind(v);
	n = ts_node_named_child_count(v);
	if (t == TG_PK_EXPRESSION_LIST || t == TG_PK_TUPLE || t == TG_PK_LIST ||
	    t == TG_PK_DICTIONARY) {
		for (uint32_t i = 0; i < n; i++)
			if (hands_over(cx, ts_node_named_child(v, i), name,
				       depth + 1))
				return true;
	} else if (t == TG_PK_PAIR) {
		return hands_over(cx, tg_node_child(v, TG_F_VALUE),
				  name, depth + 1);
	} else if (t == TG_PK_CALL && constructor_call(cx, v)) {
		TSNode args = tg_node_child(v, TG_F_ARGUMENTS);

		n = ts_node_is_null(args) ? 0 : ts_node_named_child_count(args);
		for (uint32_t i = 0; i < n; i++) {
			TSNode a = ts_node_named_child(args, i);

			if (tg_node_is(a, TG_PK_KEYWORD_ARG))
				a = tg_node_child(a, TG_F_VALUE);
			if (name_is(cx, tg_node_unparen(a), name))
				return true;
		}
	}
	return false;
}

/* `with s:`, `with s.begin():`, `with closing(s):` */
static bool with_manages(const struct tg_actx *cx, TSNode with,
			 const char *name)
{
	TSNode clause = { 0 };
	uint32_t n = ts_node_named_child_count(with);

	for (uint32_t i = 0; i < n && ts_node_is_null(clause); i++)
		if (tg_node_is(ts_node_named_child(with, i), TG_PK_WITH_CLAUSE))
			clause = ts_node_named_child(with, i);
	if (ts_node_is_null(clause))
		return false;
	n = ts_node_named_child_count(clause);
	for (uint32_t i = 0; i < n; i++) {
		TSNode v = tg_node_child(ts_node_named_child(clause, i),
					 TG_F_VALUE);
		TSNode args;
		uint32_t na;

		if (!ts_node_is_null(v) && tg_node_is(v, TG_PK_AS_PATTERN))
			v = ts_node_named_child(v, 0);
		v = tg_node_unparen(v);
		if (ts_node_is_null(v))
			continue;
		if (name_is(cx, v, name))
			return true;
		if (!tg_node_is(v, TG_PK_CALL))
			continue;
		if (is_attr_of(cx, tg_node_child(v, TG_F_FUNCTION),
			       name, "begin"))
			return true;
		args = tg_node_child(v, TG_F_ARGUMENTS);
		na = ts_node_is_null(args) ? 0 : ts_node_named_child_count(args);
		for (uint32_t k = 0; k < na; k++)
			if (name_is(cx, ts_node_named_child(args, k), name))
				return true;
	}
	return false;
}

/*
 * A call that takes the session's cleanup over: `stack.enter_context(s)`
 * and the like, or any call given the bound method `s.close`
 * (`stack.callback(s.close)`, `request.addfinalizer(s.close)`).
 */
static bool registers_cleanup(const struct tg_actx *cx, TSNode call,
			      const char *name)
{
	static const char *const takers[] = {
		"enter_context", "enter_async_context", "push_async_exit",
	};
	TSNode fn = tg_node_child(call, TG_F_FUNCTION);
	TSNode args = tg_node_child(call, TG_F_ARGUMENTS);
	uint32_t n = ts_node_is_null(args) ? 0 : ts_node_named_child_count(args);
	bool taker = false;

	if (!ts_node_is_null(fn) && tg_node_is(fn, TG_PK_ATTRIBUTE)) {
		TSNode a = tg_node_child(fn, TG_F_ATTRIBUTE);
		size_t len = 0;
		const char *s = ts_node_is_null(a) ? "" :
			tg_node_text(cx->py, a, &len);

		for (size_t i = 0; i < TG_ARRAY_SIZE(takers); i++)
			if (len == strlen(takers[i]) &&
			    !memcmp(s, takers[i], len))
				taker = true;
	}
	for (uint32_t i = 0; i < n; i++) {
		TSNode a = tg_node_unparen(ts_node_named_child(args, i));

		if (taker && name_is(cx, a, name))
			return true;
		if (is_attr_of(cx, a, name, "close"))
			return true;
	}
	return false;
}

struct scan {
	const char *name;
	uint32_t from;      /* the binding's end */
	uint32_t first_use; /* the first use after it, UINT32_MAX if none */
	bool ok;            /* managed, handed over or cleanup registered */
	uint32_t *tries;    /* try statements after it whose finally closes */
	size_t ntries, alloc_tries;
};

/* A use of the name, not `x.name` nor a keyword `name=`. */
static bool is_use(const struct tg_actx *cx, TSTreeCursor *c, TSNode n,
		   const char *name)
{
	unsigned field;

	if (!name_is(cx, n, name))
		return false;
	field = ts_tree_cursor_current_field_id(c);
	if (tg_node_field_is(field, TG_F_ATTRIBUTE))
		return false;
	if (tg_node_field_is(field, TG_F_NAME))
		return !tg_node_is(ts_node_parent(n), TG_PK_KEYWORD_ARG);
	return true;
}

/* One pass over the scope after the binding, up to a rebinding. */
static void scan_scope(const struct tg_actx *cx, struct scan *sc, TSNode root)
{
	TSTreeCursor c = ts_tree_cursor_new(root);

	for (;;) {
		TSNode n = ts_tree_cursor_current_node(&c);
		unsigned kind = tg_node_kind(n);
		uint32_t start = ts_node_start_byte(n);
		bool descend = true;

		if (ts_node_end_byte(n) <= sc->from) {
			descend = false;
		} else if (start < sc->from) {
			/* an ancestor of the binding, or the binding itself */
		} else if (is_scope(n)) {
			descend = false;
		} else if (kind == TG_PK_ASSIGNMENT) {
			TSNode left = tg_node_child(n, TG_F_LEFT);
			TSNode right =
				tg_node_unparen(tg_node_child(n, TG_F_RIGHT));

			/* a rebinding: a later session is another case */
			if (name_is(cx, left, sc->name))
				break;
			/* stored in an object or a container: handed over */
			if (!ts_node_is_null(left) &&
			    (tg_node_is(left, TG_PK_ATTRIBUTE) ||
			     tg_node_is(left, TG_PK_SUBSCRIPT)) &&
			    name_is(cx, right, sc->name))
				sc->ok = true;
		} else if (kind == TG_PK_RETURN || kind == TG_PK_YIELD) {
			if (ts_node_named_child_count(n) &&
			    hands_over(cx, ts_node_named_child(n, 0), sc->name,
				       0))
				sc->ok = true;
		} else if (kind == TG_PK_WITH) {
			if (with_manages(cx, n, sc->name))
				sc->ok = true;
		} else if (kind == TG_PK_TRY) {
			if (finally_closes(cx, n, sc->name)) {
				TG_ALLOC_GROW(sc->tries, sc->ntries + 1,
					      sc->alloc_tries);
				sc->tries[sc->ntries++] = start;
			}
		} else if (kind == TG_PK_CALL) {
			if (registers_cleanup(cx, n, sc->name))
				sc->ok = true;
		} else if (start < sc->first_use && is_use(cx, &c, n, sc->name)) {
			sc->first_use = start;
		}
		if (sc->ok)
			break;
		if (!tg_cursor_next(&c, descend))
			break;
	}
	ts_tree_cursor_delete(&c);
}

/*
 * The scope a binding lives in: the body of its function, or the
 * module. Null for a class body (a class attribute is meant to live
 * long) and for a script's `if __name__ == "__main__":` block (the
 * process exit ends it). *in_try is set when an enclosing try's
 * finally closes the session; *is_async for an async def.
 */
static TSNode scope_of(const struct tg_actx *cx, TSNode bind, const char *name,
		       bool *in_try, bool *is_async)
{
	TSNode n = bind, prev = bind;

	*in_try = false;
	*is_async = false;
	/*
	 * ts_node_parent() costs the depth: statements nest only as deep as
	 * the parser allows indentation, so the climb stays short.
	 */
	for (int up = 0;; up++) {
		TSNode p = ts_node_parent(n);
		unsigned t;

		if (up > 256)
			return (TSNode){ 0 };
		if (ts_node_is_null(p))
			return n;
		t = tg_node_kind(p);
		prev = n;
		n = p;
		if (t == TG_PK_FUNCTION) {
			*is_async = tg_node_is_async(n);
			return tg_node_child(n, TG_F_BODY);
		}
		if (t == TG_PK_CLASS)
			return (TSNode){ 0 };
		if (t == TG_PK_IF) {
			TSNode cond = tg_node_child(n, TG_F_CONDITION);
			size_t len = 0;
			const char *s = ts_node_is_null(cond) ? "" :
				tg_node_text(cx->py, cond, &len);

			if (memmem(s, len, "__name__", 8) &&
			    memmem(s, len, "__main__", 8))
				return (TSNode){ 0 };
		}
		if (t == TG_PK_TRY &&
		    !tg_node_is(prev, TG_PK_FINALLY) &&
		    finally_closes(cx, n, name))
			*in_try = true;
	}
}

static void report(struct tg_actx *cx, const struct tg_owned *e, TSNode call,
		   bool is_async)
{
	struct tg_finding *f = tg_analyze_emit(cx, "TX002", call);
	const struct tg_owner *o;
	char *disp, *desc;

	if (!f)
		return;
	(void)tg_callee_classify(cx, call, &o);
	disp = tg_analyze_display(cx, call);
	/* a factory owns no transaction: it is named in the message only */
	desc = tg_callee_factory_desc(cx, call, o);
	f->owner_text = tg_xstrdup(e->owner_text);
	f->message = tg_xasprintf(
		"`%s = %s` creates a session (%s) that is never closed: no `%s` manages it, no `finally` covering its use closes it, and it is not returned or yielded",
		e->name, disp, desc, is_async ? "async with" : "with");
	free(desc);
	f->help = tg_xasprintf(
		"open it with `%s %s as %s:`, which closes it on exit (commit explicitly inside), or put every use in a `try:` whose `finally:` calls `%s%s.close()`",
		is_async ? "async with" : "with", disp, e->name,
		is_async ? "await " : "", e->name);
	free(disp);
}

static void tx002_enter(struct tg_actx *cx, TSNode node, unsigned kind)
{
	const struct tg_owned *e;
	struct scan sc = { 0 };
	TSNode root, call;
	bool in_try, is_async;

	if (!cx->nstack || kind != TG_PK_ASSIGNMENT)
		return;
	e = &cx->stack[cx->nstack - 1];
	if (e->kind != TG_OWNED_CREATED || e->bind_id != node.id ||
	    !tg_analyze_wants(cx, "TX002"))
		return;
	call = tg_node_child(node, TG_F_RIGHT);
	while (!ts_node_is_null(call) && !tg_node_is(call, TG_PK_CALL))
		call = ts_node_named_child(call, 0);
	if (ts_node_is_null(call))
		return;
	root = scope_of(cx, node, e->name, &in_try, &is_async);
	if (ts_node_is_null(root) || in_try)
		return;
	sc.name = e->name;
	sc.from = ts_node_end_byte(node);
	sc.first_use = UINT32_MAX;
	scan_scope(cx, &sc, root);
	/* a finally that closes it covers every use when none comes before */
	for (size_t i = 0; !sc.ok && i < sc.ntries; i++)
		if (sc.first_use >= sc.tries[i])
			sc.ok = true;
	free(sc.tries);
	if (!sc.ok)
		report(cx, e, call, is_async);
}

const struct tg_rule_ops tg_rule_tx002_ops = {
	"TX002",
	tx002_enter,
	NULL,
	true,
	TG_RULE_KIND(TG_PK_ASSIGNMENT),
};
