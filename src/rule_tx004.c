#include "txguard/common.h"
#include "txguard/analyze.h"
#include "txguard/analyze_rule.h"
#include "txguard/callee.h"
#include "txguard/finding.h"
#include "txguard/node.h"
#include "txguard/pyparse.h"
#include "txguard/resolver.h"

/*
 * TX004 session-escape: a session that a block or the request
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

static enum escape escape_of(const struct tg_actx *cx, TSNode fn)
{
	bool attr = tg_node_is(fn, TG_PK_ATTRIBUTE);
	TSNode last = attr ? tg_node_child(fn, TG_F_ATTRIBUTE) :
			     fn;
	const char *s;
	size_t len;

	if (!tg_node_is(last, TG_PK_IDENTIFIER))
		return ESC_NONE;
	s = tg_node_text(cx->py, last, &len);
	if ((attr && tg_node_text_is(s, len, "add_task")) ||
	    tg_node_text_is(s, len, "BackgroundTask"))
		return ESC_BACKGROUND;
	if (tg_node_text_is(s, len, "create_task") ||
	    tg_node_text_is(s, len, "ensure_future"))
		return ESC_TASK;
	if ((attr && (tg_node_text_is(s, len, "run_in_executor") ||
		      tg_node_text_is(s, len, "submit"))) ||
	    tg_node_text_is(s, len, "to_thread") ||
	    tg_node_text_is(s, len, "Thread") ||
	    tg_node_text_is(s, len, "Timer") ||
	    tg_node_text_is(s, len, "Process"))
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

	if (!tg_node_is(fn, TG_PK_ATTRIBUTE))
		return false;
	obj = tg_node_child(fn, TG_F_OBJECT);
	if (!tg_node_is(obj, TG_PK_IDENTIFIER))
		return false;
	os = tg_node_text(cx->py, obj, &olen);
	/* ts_node_parent() costs the depth: give up on absurd nesting */
	for (int up = 0; up < 256; up++) {
		TSNode p = ts_node_parent(n);
		unsigned t;

		if (ts_node_is_null(p))
			return false;
		n = p;
		t = tg_node_kind(n);
		if (t == TG_PK_FUNCTION || t == TG_PK_LAMBDA ||
		    t == TG_PK_CLASS ||
		    ts_node_start_byte(n) < e->body_start)
			return false;
		if (t == TG_PK_WITH) {
			TSTreeCursor c = ts_tree_cursor_new(n);
			bool found = false;

			/* the `as` targets of its items */
			if (ts_tree_cursor_goto_first_child(&c)) {
				do {
					TSNode ch = ts_tree_cursor_current_node(&c);
					uint32_t k, m;

					if (!tg_node_is(ch, TG_PK_WITH_CLAUSE))
						continue;
					m = ts_node_named_child_count(ch);
					for (k = 0; k < m; k++) {
						TSNode v = tg_node_child(
							ts_node_named_child(ch, k),
							TG_F_VALUE);
						TSNode al;
						size_t len;
						const char *s;

						if (ts_node_is_null(v) ||
						    !tg_node_is(v, TG_PK_AS_PATTERN))
							continue;
						al = tg_node_child(v, TG_F_ALIAS);
						if (ts_node_is_null(al))
							continue;
						s = tg_node_text(cx->py, al, &len);
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
	TSNode a = tg_node_child(attr, TG_F_ATTRIBUTE);
	size_t len;
	const char *s;

	if (ts_node_is_null(a))
		return false;
	s = tg_node_text(cx->py, a, &len);
	for (size_t i = 0; i < TG_ARRAY_SIZE(methods); i++)
		if (tg_node_text_is(s, len, methods[i]))
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
			  unsigned field)
{
	static const char *const values[] = {
		"id", "str", "repr", "hash", "len", "type", "bool", "isinstance",
	};
	TSNode attr, up;
	unsigned t;

	if (!field) {
		/* `id(session)`, `repr(session)`: a value computed here */
		TSNode args = ts_node_parent(n), call, fn;
		size_t len;
		const char *s;

		if (ts_node_is_null(args) ||
		    !tg_node_is(args, TG_PK_ARGUMENT_LIST))
			return true;
		call = ts_node_parent(args);
		fn = ts_node_is_null(call) ? call :
			tg_node_child(call, TG_F_FUNCTION);
		if (!tg_node_is(fn, TG_PK_IDENTIFIER))
			return true;
		s = tg_node_text(cx->py, fn, &len);
		for (size_t i = 0; i < TG_ARRAY_SIZE(values); i++)
			if (tg_node_text_is(s, len, values[i]))
				return false;
		return true;
	}
	if (!tg_node_field_is(field, TG_F_OBJECT))
		return true;
	attr = ts_node_parent(n);
	if (!tg_node_is(attr, TG_PK_ATTRIBUTE))
		return true;
	up = ts_node_parent(attr);
	if (ts_node_is_null(up))
		return false;
	t = tg_node_kind(up);
	if (t == TG_PK_ARGUMENT_LIST || t == TG_PK_KEYWORD_ARG)
		return session_method(cx, attr);
	if (t == TG_PK_CALL)
		return ts_node_start_byte(
			       tg_node_child(up, TG_F_FUNCTION)) ==
			       ts_node_start_byte(attr) &&
		       ts_node_end_byte(tg_node_child(up, TG_F_FUNCTION)) ==
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
		unsigned t = tg_node_kind(n);
		unsigned field = ts_tree_cursor_current_field_id(&c);
		bool descend = true;

		if (tg_node_field_is(field, TG_F_ATTRIBUTE) ||
		    (tg_node_field_is(field, TG_F_NAME) &&
		     tg_node_is(ts_node_parent(n), TG_PK_KEYWORD_ARG))) {
			descend = false;
		} else if (t == TG_PK_IDENTIFIER || t == TG_PK_ATTRIBUTE) {
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

/*
 * A call passing a scoped session to a function that hands that
 * parameter to background work (itself, or through what it calls).
 */
static void escaping_callee(struct tg_actx *cx, TSNode call)
{
	struct tg_commit_site site;
	const struct tg_owned *e;
	struct tg_finding *f;

	if (!tg_callee_passes(cx, call, true, &e, &site))
		return;
	if (!(f = tg_analyze_emit(cx, "TX004", call))) {
		tg_commit_site_release(&site);
		return;
	}
	f->owner = tg_xstrdup(e->owner_desc ? e->owner_desc : "");
	f->owner_text = tg_xstrdup(e->owner_text ? e->owner_text : "");
	f->message = tg_xasprintf(
		"`%s`, the session of `%s`, is passed to %s, which hands its `%s` parameter to background work at %s; that work can run after %s has closed the session",
		e->name, e->header, site.callee, site.param, site.where,
		e->request ? "the request" : "the block");
	f->help = tg_xasprintf(
		"let %s pass ids or plain values to the background work, and let that work open its own session",
		site.callee);
	tg_commit_site_release(&site);
}

static void tx004_enter(struct tg_actx *cx, TSNode node, unsigned kind)
{
	TSNode fn, args, parent;
	const struct tg_owned *e;
	enum escape esc;
	struct tg_finding *f;
	char *what;
	const char *outcome;

	if (!cx->nstack || kind != TG_PK_CALL)
		return;
	fn = tg_node_unparen(tg_node_child(node, TG_F_FUNCTION));
	args = tg_node_child(node, TG_F_ARGUMENTS);
	if (ts_node_is_null(fn) || ts_node_is_null(args) ||
	    !tg_analyze_wants(cx, "TX004"))
		return;
	if ((esc = escape_of(cx, fn)) == ESC_NONE) {
		escaping_callee(cx, node);
		return;
	}
	/* `await asyncio.create_task(...)`: awaited in place, nothing escapes */
	parent = ts_node_parent(node);
	if (esc == ESC_TASK && !ts_node_is_null(parent) &&
	    tg_node_is(parent, TG_PK_AWAIT))
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
