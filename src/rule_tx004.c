#include "txguard/common.h"
#include "txguard/analyze.h"
#include "txguard/analyze_rule.h"
#include "txguard/finding.h"
#include "txguard/pyparse.h"

/*
 * TX004 session-escape (§5): a session that a block or the request
 * scope closes, passed into work that outlives that scope: background
 * tasks (BackgroundTasks.add_task, Starlette's BackgroundTask), tasks
 * (asyncio.create_task / ensure_future, loop.create_task) and threads
 * (loop.run_in_executor, asyncio.to_thread, executor.submit,
 * threading.Thread / Timer, multiprocessing.Process). The scopes are
 * the walk's stack entries: owner blocks, `with factory() as s` blocks
 * and request-scoped parameters; `s = factory()` is TX002's business.
 */

enum escape {
	ESC_NONE,
	ESC_BACKGROUND, /* runs after the response */
	ESC_TASK,       /* runs concurrently, may outlive the block */
	ESC_THREAD,     /* another thread */
};

static bool is(const char *type, const char *name)
{
	return !strcmp(type, name);
}

static TSNode unparen(TSNode n)
{
	while (!ts_node_is_null(n) &&
	       is(ts_node_type(n), "parenthesized_expression") &&
	       ts_node_named_child_count(n) == 1)
		n = ts_node_named_child(n, 0);
	return n;
}

static bool text_is(const char *s, size_t len, const char *lit)
{
	return len == strlen(lit) && !memcmp(s, lit, len);
}

static enum escape escape_of(const struct tg_actx *cx, TSNode fn)
{
	bool attr = is(ts_node_type(fn), "attribute");
	TSNode last = attr ? tg_child(fn, TG_F_ATTRIBUTE) :
			     fn;
	const char *s;
	size_t len;

	if (ts_node_is_null(last) || !is(ts_node_type(last), "identifier"))
		return ESC_NONE;
	s = tg_analyze_text(cx, last, &len);
	if ((attr && text_is(s, len, "add_task")) ||
	    text_is(s, len, "BackgroundTask"))
		return ESC_BACKGROUND;
	if (text_is(s, len, "create_task") || text_is(s, len, "ensure_future"))
		return ESC_TASK;
	if ((attr && (text_is(s, len, "run_in_executor") ||
		      text_is(s, len, "submit"))) ||
	    text_is(s, len, "to_thread") || text_is(s, len, "Thread") ||
	    text_is(s, len, "Timer") || text_is(s, len, "Process"))
		return ESC_THREAD;
	return ESC_NONE;
}

/*
 * `tg.create_task(...)` where tg is bound by a with statement inside the
 * session's scope (asyncio.TaskGroup, anyio): the group awaits its tasks
 * before the session's block exits, so nothing escapes.
 */
static bool structured(const struct tg_actx *cx, TSNode call, TSNode fn,
		       const struct tg_owned *e)
{
	TSNode obj, n = call;
	size_t olen;
	const char *os;

	if (!is(ts_node_type(fn), "attribute"))
		return false;
	obj = tg_child(fn, TG_F_OBJECT);
	if (ts_node_is_null(obj) || !is(ts_node_type(obj), "identifier"))
		return false;
	os = tg_analyze_text(cx, obj, &olen);
	/* ts_node_parent() costs the depth: give up on absurd nesting (§11) */
	for (int up = 0; up < 256; up++) {
		TSNode p = ts_node_parent(n);
		const char *t;

		if (ts_node_is_null(p))
			return false;
		n = p;
		t = ts_node_type(n);
		if (is(t, "function_definition") || is(t, "lambda") ||
		    is(t, "class_definition") ||
		    ts_node_start_byte(n) < e->body_start)
			return false;
		if (is(t, "with_statement")) {
			TSTreeCursor c = ts_tree_cursor_new(n);
			bool found = false;

			/* the `as` targets of its items */
			if (ts_tree_cursor_goto_first_child(&c)) {
				do {
					TSNode ch = ts_tree_cursor_current_node(&c);
					uint32_t k, m;

					if (!is(ts_node_type(ch), "with_clause"))
						continue;
					m = ts_node_named_child_count(ch);
					for (k = 0; k < m; k++) {
						TSNode v = tg_child(
							ts_node_named_child(ch, k),
							TG_F_VALUE);
						TSNode al;
						size_t len;
						const char *s;

						if (ts_node_is_null(v) ||
						    !is(ts_node_type(v), "as_pattern"))
							continue;
						al = tg_child(v, TG_F_ALIAS);
						if (ts_node_is_null(al))
							continue;
						s = tg_analyze_text(cx, al, &len);
						if (len == olen &&
						    !memcmp(s, os, len))
							found = true;
					}
				} while (ts_tree_cursor_goto_next_sibling(&c));
			}
			ts_tree_cursor_delete(&c);
			if (found)
				return true;
		}
	}
	return false;
}

/*
 * `session.refresh` passed as the work's callable: a session method.
 * Other attributes passed along (`session.bind`, `session.info`) are
 * values.
 */
static bool session_method(const struct tg_actx *cx, TSNode attr)
{
	static const char *const methods[] = {
		"add",	   "add_all", "close",	 "commit",  "delete",
		"execute", "expire",  "expunge", "flush",   "get",
		"merge",   "query",   "refresh", "rollback", "run_sync",
		"scalar",  "scalars", "stream",
	};
	TSNode a = tg_child(attr, TG_F_ATTRIBUTE);
	size_t len;
	const char *s;

	if (ts_node_is_null(a))
		return false;
	s = tg_analyze_text(cx, a, &len);
	for (size_t i = 0; i < TG_ARRAY_SIZE(methods); i++)
		if (text_is(s, len, methods[i]))
			return true;
	return false;
}

/*
 * Does this mention hand the session over? The name itself, or a method
 * of it called or passed as a callable (`session.execute(q)`,
 * `add_task(session.refresh, obj)`); reading an attribute
 * (`session.info["user"]`, `session.bind`) or computing a value from it
 * (`id(session)`) does not.
 */
static bool hands_session(const struct tg_actx *cx, TSNode n,
			  const char *field)
{
	static const char *const values[] = {
		"id", "str", "repr", "hash", "len", "type", "bool", "isinstance",
	};
	TSNode attr, up;
	const char *t;

	if (!field) {
		/* `id(session)`, `repr(session)`: a value computed here */
		TSNode args = ts_node_parent(n), call, fn;
		size_t len;
		const char *s;

		if (ts_node_is_null(args) ||
		    !is(ts_node_type(args), "argument_list"))
			return true;
		call = ts_node_parent(args);
		fn = ts_node_is_null(call) ? call :
			tg_child(call, TG_F_FUNCTION);
		if (ts_node_is_null(fn) || !is(ts_node_type(fn), "identifier"))
			return true;
		s = tg_analyze_text(cx, fn, &len);
		for (size_t i = 0; i < TG_ARRAY_SIZE(values); i++)
			if (text_is(s, len, values[i]))
				return false;
		return true;
	}
	if (strcmp(field, "object"))
		return true;
	attr = ts_node_parent(n);
	if (ts_node_is_null(attr) || !is(ts_node_type(attr), "attribute"))
		return true;
	up = ts_node_parent(attr);
	if (ts_node_is_null(up))
		return false;
	t = ts_node_type(up);
	if (is(t, "argument_list") || is(t, "keyword_argument"))
		return session_method(cx, attr);
	if (is(t, "call"))
		return ts_node_start_byte(
			       tg_child(up, TG_F_FUNCTION)) ==
			       ts_node_start_byte(attr) &&
		       ts_node_end_byte(tg_child(up, TG_F_FUNCTION)) ==
			       ts_node_end_byte(attr);
	return false;
}

/* The scoped session the arguments mention, or NULL. */
static const struct tg_owned *mentioned(const struct tg_actx *cx, TSNode args,
					uint32_t at)
{
	TSTreeCursor c = ts_tree_cursor_new(args);
	const struct tg_owned *found = NULL;

	for (;;) {
		TSNode n = ts_tree_cursor_current_node(&c);
		const char *t = ts_node_type(n);
		const char *field = ts_tree_cursor_current_field_name(&c);
		bool descend = true;

		if (field && (!strcmp(field, "attribute") ||
			      (!strcmp(field, "name") &&
			       is(ts_node_type(ts_node_parent(n)),
				  "keyword_argument")))) {
			descend = false;
		} else if (is(t, "identifier") || is(t, "attribute")) {
			char *name = tg_analyze_norm(cx, n);
			const struct tg_owned *e =
				tg_analyze_scope_of(cx, name, at);

			free(name);
			if (e && e->kind != TG_OWNED_CREATED &&
			    hands_session(cx, n, field)) {
				found = e;
				break;
			}
		}
		if (!tg_cursor_next(&c, descend))
			break;
	}
	ts_tree_cursor_delete(&c);
	return found;
}

static void tx004_enter(struct tg_actx *cx, TSNode node, const char *type)
{
	TSNode fn, args, parent;
	const struct tg_owned *e;
	enum escape esc;
	struct tg_finding *f;
	char *what;
	const char *outcome;

	if (!cx->nstack || strcmp(type, "call"))
		return;
	fn = unparen(tg_child(node, TG_F_FUNCTION));
	args = tg_child(node, TG_F_ARGUMENTS);
	if (ts_node_is_null(fn) || ts_node_is_null(args) ||
	    (esc = escape_of(cx, fn)) == ESC_NONE ||
	    !tg_analyze_wants(cx, "TX004"))
		return;
	/* `await asyncio.create_task(...)`: awaited in place, nothing escapes */
	parent = ts_node_parent(node);
	if (esc == ESC_TASK && !ts_node_is_null(parent) &&
	    is(ts_node_type(parent), "await"))
		return;
	e = mentioned(cx, args, ts_node_start_byte(node));
	if (!e || (esc == ESC_TASK && structured(cx, node, fn, e)))
		return;
	if (!(f = tg_analyze_emit(cx, "TX004", node)))
		return;
	what = tg_analyze_display(cx, fn);
	switch (esc) {
	case ESC_BACKGROUND:
		outcome = e->request ?
			"runs after the response is sent, when the request's session is already closed" :
			"runs later, after the block has closed the session";
		break;
	case ESC_TASK:
		outcome = e->request ?
			"can still run after the request has closed the session" :
			"can still run after the block has closed the session";
		break;
	default:
		outcome = "uses it from another thread (a session is not thread-safe) and can outlive the scope that closes it";
		break;
	}
	f->owner = tg_xstrdup(e->owner_desc ? e->owner_desc : "");
	f->owner_text = tg_xstrdup(e->owner_text ? e->owner_text : "");
	f->message = tg_xasprintf("`%s`, the session of `%s`, is passed to %s(), which %s",
				  e->name, e->header, what, outcome);
	/* the same block inside the work, or a fresh session of the same flavour */
	if (!e->request && TG_OWNED_OWNS(e->kind))
		f->help = tg_xasprintf(
			"pass ids or plain values to %s() instead, and let the background work open its own session (`%s:` inside it)",
			what, e->header);
	else
		f->help = tg_xasprintf(
			"pass ids or plain values to %s() instead, and let the background work open its own session (e.g. `%s as session:` inside it)",
			what,
			e->is_async ? "async with async_session_factory()" :
				      "with Session(engine)");
	free(what);
}

const struct tg_rule_ops tg_rule_tx004_ops = {
	"TX004",
	tx004_enter,
	NULL,
	false,
	TG_RULE_KIND(TG_PK_CALL),
};
