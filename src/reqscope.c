#include "txguard/common.h"
#include "txguard/analyze.h"
#include "txguard/analyze_rule.h"
#include "txguard/callee.h"
#include "txguard/infer.h"
#include "txguard/node.h"
#include "txguard/owner_table.h"
#include "txguard/pyparse.h"
#include "txguard/reqscope.h"
#include "txguard/resolver.h"

#include <strings.h>

/* The first Depends(...) call in an annotation (Annotated[T, Depends(P)]). */
static TSNode find_depends(const struct tg_actx *cx, TSNode ann)
{
	TSTreeCursor c = ts_tree_cursor_new(ann);
	TSNode found = { 0 };

	for (;;) {
		TSNode n = ts_tree_cursor_current_node(&c);

		if (tg_node_callee_is(cx->py, n, "Depends")) {
			found = n;
			break;
		}
		if (!tg_cursor_next(&c, true))
			break;
	}
	ts_tree_cursor_delete(&c);
	return found;
}

/* P of Depends(P) or Depends(dependency=P); null for a bare Depends() */
static TSNode depends_target(const struct tg_actx *cx, TSNode dep)
{
	TSNode args = tg_node_child(dep, TG_F_ARGUMENTS);
	uint32_t n = ts_node_is_null(args) ? 0 : ts_node_named_child_count(args);

	for (uint32_t i = 0; i < n; i++) {
		TSNode a = ts_node_named_child(args, i);
		unsigned t = tg_node_kind(a);

		if (t == TG_PK_KEYWORD_ARG) {
			TSNode k = tg_node_child(a, TG_F_NAME);
			size_t len = 0;
			const char *s = ts_node_is_null(k) ? "" :
					tg_node_text(cx->py, k, &len);

			if (!tg_node_text_is(s, len, "dependency"))
				continue;
			a = tg_node_child(a, TG_F_VALUE);
			t = tg_node_kind(a);
		}
		if (t == TG_PK_IDENTIFIER || t == TG_PK_ATTRIBUTE)
			return a;
		return (TSNode){ 0 };
	}
	return (TSNode){ 0 };
}

/* Does an annotation name SQLAlchemy's Session or AsyncSession? */
static bool annotation_is_session(const struct tg_actx *cx, TSNode ann)
{
	TSTreeCursor c = ts_tree_cursor_new(ann);
	bool yes = false;

	for (;;) {
		TSNode n = ts_tree_cursor_current_node(&c);

		if (tg_node_is(n, TG_PK_IDENTIFIER)) {
			size_t len;
			const char *s = tg_node_text(cx->py, n, &len);

			if (tg_node_text_is(s, len, "Session") ||
			    tg_node_text_is(s, len, "AsyncSession")) {
				yes = true;
				break;
			}
		}
		if (!tg_cursor_next(&c, true))
			break;
	}
	ts_tree_cursor_delete(&c);
	return yes;
}

/* An alias name that says it carries a session: SessionDep, DbSession. */
static bool sessionish_name(const char *s)
{
	const char *l = tg_node_last_part(s, strlen(s), NULL);

	return strcasestr(l, "session") || !strncasecmp(l, "db", 2);
}

/* `= SessionDep`: a default that may name `SessionDep = Depends(P)`. */
static bool alias_default(TSNode value)
{
	return !ts_node_is_null(value) &&
	       (tg_node_is(value, TG_PK_IDENTIFIER) ||
		tg_node_is(value, TG_PK_ATTRIBUTE));
}

/* One parameter of tg_reqscope_enter(). */
static void request_param(struct tg_actx *cx, TSNode fn, TSNode p,
			  TSNode body, bool is_async)
{
	const struct tg_owner_table *reg = cx->opts ? cx->opts->owners : NULL;
	struct tg_resolver *res = cx->opts ? cx->opts->resolver : NULL;
	unsigned t = tg_node_kind(p);
	TSNode name = { 0 }, ann = { 0 }, value = { 0 }, dep = { 0 };
	const struct tg_owner *o = NULL;
	bool closing = false;
	char *via = NULL, *disp;
	struct tg_owned *e;

	if (t == TG_PK_TYPED_DEFAULT) {
		name = tg_node_child(p, TG_F_NAME);
		ann = tg_node_child(p, TG_F_TYPE);
		value = tg_node_child(p, TG_F_VALUE);
	} else if (t == TG_PK_DEFAULT_PARAM) {
		name = tg_node_child(p, TG_F_NAME);
		value = tg_node_child(p, TG_F_VALUE);
	} else if (t == TG_PK_TYPED_PARAM) {
		name = ts_node_named_child(p, 0);
		ann = tg_node_child(p, TG_F_TYPE);
	} else {
		return;
	}
	if (ts_node_is_null(name) ||
	    !tg_node_is(name, TG_PK_IDENTIFIER))
		return;
	value = tg_node_unparen(value);
	if (!ts_node_is_null(value) &&
	    tg_node_callee_is(cx->py, value, "Depends"))
		dep = value;
	else if (!ts_node_is_null(ann))
		dep = find_depends(cx, ann);
	if (!ts_node_is_null(dep)) {
		TSNode target = depends_target(cx, dep);
		char *tt;

		if (ts_node_is_null(target))
			return;
		tt = tg_analyze_norm(cx, target);
		o = tg_owner_table_match_owner(reg, tt, strlen(tt));
		if (!o && res)
			o = tg_resolver_dependency(res, cx->py->path,
						   tt, strlen(tt));
		if (!o && !ts_node_is_null(ann))
			closing = annotation_is_session(cx, ann);
		if (o && o->origin == TG_OWNER_INFERRED)
			via = tg_xasprintf(
				"Depends(%s): %s, defined at %s, %s",
				tt, o->name, o->where ? o->where : "?",
				o->how ? o->how : "commits after yield");
		else if (o)
			via = tg_xasprintf(
				"Depends(%s): %s (owner configured in %s)",
				tt, o->name,
				o->where ? o->where : ".txguard");
		else
			via = tg_xasprintf(
				"Depends(%s): a request-scoped session, closed when the request ends",
				tt);
		free(tt);
	} else if (res) {
		/*
		 * The annotation's name (an Annotated alias), then a default
		 * naming one (`= SessionDep` with SessionDep = Depends(P)).
		 */
		TSNode cand[2];

		cand[0] = ts_node_is_null(ann) ? ann
					       : ts_node_named_child(ann, 0);
		cand[1] = alias_default(value) ? value : (TSNode){0};
		for (int i = 0; i < 2 && !o && !closing; i++) {
			TSNode a = cand[i];
			struct tg_resolution r;
			char *at;

			if (ts_node_is_null(a) ||
			    (!tg_node_is(a, TG_PK_IDENTIFIER) &&
			     !tg_node_is(a, TG_PK_ATTRIBUTE)))
				continue;
			at = tg_analyze_norm(cx, a);
			o = tg_resolver_alias(res, cx->py->path, at,
					      strlen(at));
			if (!o &&
			    !tg_resolver_lookup(&r, res, cx->py->path, at,
						strlen(at)) &&
			    r.kind == TG_RESOLVED_ALIAS && sessionish_name(at))
				closing = true;
			free(via);
			if (o)
				via = tg_callee_owner_desc(o);
			else
				via = tg_xasprintf(
					"%s: a request-scoped session, closed "
					"when the request ends",
					at);
			dep = a;
			free(at);
		}
	}
	if (!o && !closing) {
		free(via);
		return;
	}
	e = tg_analyze_push(cx, fn);
	e->name = tg_analyze_norm(cx, name);
	disp = tg_analyze_display(cx, p);
	e->header = disp;
	e->owner_text = tg_analyze_norm(cx, dep);
	e->owner_desc = via;
	e->kind = o ? TG_OWNED_REQUEST : TG_OWNED_CLOSING;
	e->owner = o;
	e->request = true;
	e->is_async = is_async;
	e->body_start = ts_node_start_byte(body);
	e->line = ts_node_start_point(p).row + 1;
}

/*
 * The parameter of `fn` that receives what a decorator injects: the one
 * named `param`, or the positional one at `index` (self included; none
 * after `*args` or a bare `*`). Null when there is none.
 */
static TSNode injected_param(const struct tg_actx *cx, TSNode fn,
			     const char *param, int index)
{
	TSNode params = tg_node_child(fn, TG_F_PARAMETERS);
	TSNode found = {0};
	TSTreeCursor c;
	bool positional = true;
	int pos = 0;

	if (ts_node_is_null(params))
		return found;
	c = ts_tree_cursor_new(params);
	if (!ts_tree_cursor_goto_first_child(&c)) {
		ts_tree_cursor_delete(&c);
		return found;
	}
	do {
		TSNode p = ts_tree_cursor_current_node(&c), name = p;
		unsigned t = tg_node_kind(p);
		size_t len;
		const char *s = tg_node_text(cx->py, p, &len);

		if (len && s[0] == '*') {
			positional = false; /* *args, **kwargs, a bare * */
			continue;
		}
		if (t == TG_PK_TYPED_PARAM)
			name = ts_node_named_child(p, 0);
		else if (t == TG_PK_DEFAULT_PARAM || t == TG_PK_TYPED_DEFAULT)
			name = tg_node_child(p, TG_F_NAME);
		if (!ts_node_is_named(p) || !tg_node_is(name, TG_PK_IDENTIFIER))
			continue;
		s = tg_node_text(cx->py, name, &len);
		if (param ? tg_node_text_is(s, len, param)
			  : positional && pos == index) {
			found = name;
			break;
		}
		pos++;
	} while (ts_tree_cursor_goto_next_sibling(&c));
	ts_tree_cursor_delete(&c);
	return found;
}

/*
 * A decorator of `fn` that opens an owning block and hands the session
 * to `fn` (tg_resolver_decorator()): the parameter receiving it is
 * owned for the whole function, as in the block.
 */
static void injected_params(struct tg_actx *cx, TSNode fn, TSNode body,
			    bool is_async)
{
	struct tg_resolver *res = cx->opts ? cx->opts->resolver : NULL;
	TSNode parent = ts_node_parent(fn);
	TSTreeCursor c;

	if (!res || !tg_node_is(parent, TG_PK_DECORATED))
		return;
	c = ts_tree_cursor_new(parent);
	for (bool more = ts_tree_cursor_goto_first_child(&c); more;
	     more = ts_tree_cursor_goto_next_sibling(&c)) {
		TSNode d = ts_tree_cursor_current_node(&c), expr, name;
		struct tg_injection inj;
		struct tg_owned *e;
		char *text;

		if (!tg_node_is(d, TG_PK_DECORATOR))
			continue;
		expr = ts_node_named_child(d, 0);
		if (!tg_node_is(expr, TG_PK_IDENTIFIER) &&
		    !tg_node_is(expr, TG_PK_ATTRIBUTE))
			continue;
		text = tg_analyze_norm(cx, expr);
		tg_resolver_decorator(&inj, res, cx->opts->owners, cx->py->path,
				      text, strlen(text));
		if (!inj.owner ||
		    ts_node_is_null(name = injected_param(cx, fn, inj.param,
							  inj.param_index))) {
			free(inj.param);
			free(text);
			continue;
		}
		e = tg_analyze_push(cx, fn);
		e->name = tg_analyze_norm(cx, name);
		e->header = tg_xasprintf("@%s", text);
		e->owner_text = text;
		e->owner_desc = tg_callee_owner_desc(inj.owner);
		e->kind = TG_OWNED_REGISTERED;
		e->owner = inj.owner;
		e->is_async = is_async;
		e->body_start = ts_node_start_byte(body);
		e->line = ts_node_start_point(d).row + 1;
		free(inj.param);
	}
	ts_tree_cursor_delete(&c);
}

void tg_reqscope_enter(struct tg_actx *cx, TSNode fn)
{
	TSNode params = tg_node_child(fn, TG_F_PARAMETERS);
	TSNode body = tg_node_child(fn, TG_F_BODY);
	bool is_async = tg_node_is_async(fn);
	TSTreeCursor c;

	if (ts_node_is_null(params) || ts_node_is_null(body))
		return;
	/* a cursor: ts_node_named_child() counts from the first child each time */
	c = ts_tree_cursor_new(params);
	if (ts_tree_cursor_goto_first_child(&c)) {
		do {
			TSNode p = ts_tree_cursor_current_node(&c);

			if (ts_node_is_named(p))
				request_param(cx, fn, p, body, is_async);
		} while (ts_tree_cursor_goto_next_sibling(&c));
	}
	ts_tree_cursor_delete(&c);
	injected_params(cx, fn, body, is_async);
}
