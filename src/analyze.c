#include "txguard/common.h"
#include "txguard/analyze.h"
#include "txguard/analyze_rule.h"
#include "txguard/buf.h"
#include "txguard/error.h"
#include "txguard/finding.h"
#include "txguard/fingerprint.h"
#include "txguard/owners.h"
#include "txguard/pyparse.h"
#include "txguard/rules.h"
#include "txguard/units.h"

#include <strings.h>

/*
 * The rules, one file each (§5). TX002-TX004 and request-scope ownership
 * (Depends, §5) plug in here: a rule adds its ops; request scope pushes
 * owner entries for a function's parameters on entering its definition.
 */
static const struct tg_rule_ops *const rule_ops[] = {
	&tg_rule_tx001_ops,
};

bool tg_analyze_implements(const char *id)
{
	for (size_t i = 0; id && i < TG_ARRAY_SIZE(rule_ops); i++)
		if (!strcasecmp(rule_ops[i]->id, id))
			return true;
	return false;
}

static bool is(const char *type, const char *name)
{
	return !strcmp(type, name);
}

const char *tg_analyze_text(const struct tg_actx *cx, TSNode node,
			    size_t *len)
{
	uint32_t s = ts_node_start_byte(node), e = ts_node_end_byte(node);

	if (e > cx->py->len)
		e = (uint32_t)cx->py->len;
	if (s > e)
		s = e;
	*len = e - s;
	return cx->py->src + s;
}

char *tg_analyze_norm(const struct tg_actx *cx, TSNode node)
{
	size_t len;
	const char *s = tg_analyze_text(cx, node, &len);

	return tg_fingerprint_normalize(s, len);
}

char *tg_analyze_display(const struct tg_actx *cx, TSNode node)
{
	struct tg_buf b = TG_BUF_INIT;
	size_t len;
	const char *s = tg_analyze_text(cx, node, &len);
	bool space = false;

	/* one line for messages: whitespace runs folded, none after ( or before ) */
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		    (c == '\\' && i + 1 < len &&
		     (s[i + 1] == '\n' || s[i + 1] == '\r'))) {
			space = b.len > 0;
			continue;
		}
		if (space && !strchr("([{", b.ptr[b.len - 1]) &&
		    !strchr(")]},:", c))
			tg_buf_addch(&b, ' ');
		space = false;
		tg_buf_addch(&b, c);
	}
	return tg_buf_detach(&b, NULL);
}

static void owned_release(struct tg_owned *o)
{
	free(o->name);
	free(o->header);
	free(o->owner_text);
	free(o->owner_desc);
}

static struct tg_owned *push(struct tg_actx *cx, TSNode node)
{
	struct tg_owned *o;

	TG_ALLOC_GROW(cx->stack, cx->nstack + 1, cx->alloc_stack);
	o = &cx->stack[cx->nstack++];
	memset(o, 0, sizeof(*o));
	o->node_id = node.id;
	o->dead_from = UINT32_MAX;
	return o;
}

static void push_barrier(struct tg_actx *cx, TSNode node)
{
	TSNode body = ts_node_child_by_field_name(node, "body", 4);
	struct tg_owned *o = push(cx, node);

	o->barrier = true;
	o->body_start = ts_node_is_null(body) ? ts_node_start_byte(node) :
						ts_node_start_byte(body);
}

static void pop_for(struct tg_actx *cx, TSNode node)
{
	while (cx->nstack && cx->stack[cx->nstack - 1].node_id == node.id)
		owned_release(&cx->stack[--cx->nstack]);
}

const struct tg_owned *tg_analyze_owned(const struct tg_actx *cx,
					const char *name, uint32_t at)
{
	for (size_t i = cx->nstack; i-- > 0;) {
		const struct tg_owned *o = &cx->stack[i];

		/*
		 * A barrier hides what is below it from its body only: default
		 * values, decorators' arguments and base classes run in the
		 * enclosing block.
		 */
		if (o->barrier) {
			if (at >= o->body_start)
				return NULL;
			continue;
		}
		if (strcmp(o->name, name))
			continue;
		if (o->shadow)
			return NULL;
		if (at < o->body_start || at >= o->dead_from)
			return NULL;
		return o;
	}
	return NULL;
}

/*
 * §5: rebinding `name` at byte `pos` (by a statement starting at `stmt`)
 * ends ownership of it, and of dotted names under it, for the rest of
 * every enclosing owner block. The block's own `as` target binds before
 * its body starts and so never ends it.
 */
static void kill(struct tg_actx *cx, const char *name, size_t len,
		 uint32_t stmt, uint32_t pos)
{
	for (size_t i = cx->nstack; i-- > 0;) {
		struct tg_owned *o = &cx->stack[i];

		if (o->barrier)
			return;
		if (o->body_start > stmt)
			continue;
		if (strncmp(o->name, name, len) ||
		    (o->name[len] && o->name[len] != '.'))
			continue;
		if (pos < o->dead_from)
			o->dead_from = pos;
	}
}

static void kill_node(struct tg_actx *cx, TSNode n, uint32_t stmt,
		      uint32_t pos)
{
	char *name = tg_analyze_norm(cx, n);

	kill(cx, name, strlen(name), stmt, pos);
	free(name);
}

/* Every name a target pattern binds: identifiers and attributes, not subscripts. */
static void kill_targets(struct tg_actx *cx, TSNode target, uint32_t stmt,
			 uint32_t pos)
{
	TSTreeCursor c;

	if (ts_node_is_null(target))
		return;
	c = ts_tree_cursor_new(target);
	for (;;) {
		TSNode n = ts_tree_cursor_current_node(&c);
		const char *type = ts_node_type(n);
		bool descend = true;

		if (is(type, "identifier") || is(type, "attribute")) {
			kill_node(cx, n, stmt, pos);
			descend = false;
		} else if (is(type, "subscript")) {
			descend = false;
		}
		if (descend && ts_tree_cursor_goto_first_child(&c))
			continue;
		while (!ts_tree_cursor_goto_next_sibling(&c))
			if (!ts_tree_cursor_goto_parent(&c))
				goto done;
	}
done:
	ts_tree_cursor_delete(&c);
}

/*
 * A comprehension's variables live in the comprehension's own scope: they
 * hide an owned name of the same spelling inside it and rebind nothing
 * outside. The shadow entries go with the comprehension node.
 */
static void shadow_targets(struct tg_actx *cx, TSNode comp, TSNode clause)
{
	TSNode left = ts_node_child_by_field_name(clause, "left", 4);
	TSTreeCursor c;

	if (!cx->nstack || ts_node_is_null(left))
		return;
	c = ts_tree_cursor_new(left);
	for (;;) {
		TSNode n = ts_tree_cursor_current_node(&c);
		const char *type = ts_node_type(n);

		if (is(type, "identifier")) {
			struct tg_owned *o = push(cx, comp);

			o->name = tg_analyze_norm(cx, n);
			o->shadow = true;
		} else if (ts_tree_cursor_goto_first_child(&c)) {
			continue;
		}
		while (!ts_tree_cursor_goto_next_sibling(&c))
			if (!ts_tree_cursor_goto_parent(&c))
				goto done;
	}
done:
	ts_tree_cursor_delete(&c);
}

static void bindings(struct tg_actx *cx, TSNode node, unsigned kind)
{
	uint32_t start = ts_node_start_byte(node), end = ts_node_end_byte(node);

	if (!cx->nstack)
		return;
	if (kind == TG_PK_ASSIGNMENT) {
		/* an annotation alone (`s: Session`) binds nothing */
		if (ts_node_is_null(ts_node_child_by_field_name(node, "right", 5)))
			return;
		kill_targets(cx, ts_node_child_by_field_name(node, "left", 4),
			     start, end);
	} else if (kind == TG_PK_AUGASSIGN) {
		kill_targets(cx, ts_node_child_by_field_name(node, "left", 4),
			     start, end);
	} else if (kind == TG_PK_FOR) {
		TSNode right = ts_node_child_by_field_name(node, "right", 5);

		kill_targets(cx, ts_node_child_by_field_name(node, "left", 4),
			     start,
			     ts_node_is_null(right) ? start :
						      ts_node_end_byte(right));
	} else if (kind == TG_PK_AS_PATTERN) {
		kill_targets(cx, ts_node_child_by_field_name(node, "alias", 5),
			     start, end);
	} else if (kind == TG_PK_NAMED_EXPR) {
		kill_targets(cx, ts_node_child_by_field_name(node, "name", 4),
			     start, end);
	} else if (kind == TG_PK_DELETE) {
		kill_targets(cx, ts_node_named_child(node, 0), start, end);
	} else if (kind == TG_PK_GLOBAL) {
		kill_targets(cx, node, start, start);
	} else if (kind == TG_PK_IMPORT || kind == TG_PK_IMPORT_FROM) {
		uint32_t n = ts_node_named_child_count(node);

		for (uint32_t i = 0; i < n; i++) {
			TSNode ch = ts_node_named_child(node, i);
			const char *t = ts_node_type(ch);

			if (is(t, "aliased_import")) {
				kill_targets(cx,
					     ts_node_child_by_field_name(
						     ch, "alias", 5),
					     start, end);
			} else if (is(t, "dotted_name")) {
				/* `import a.b` binds a; module_name binds nothing */
				if (kind == TG_PK_IMPORT_FROM && i == 0)
					continue;
				kill_node(cx, ts_node_named_child(ch, 0),
					  start, end);
			}
		}
	}
}

static void owner_entry(struct tg_actx *cx, TSNode with, TSNode item,
			TSNode name, TSNode call, enum tg_owned_kind kind,
			const struct tg_owner *owner, bool is_async,
			uint32_t body_start)
{
	struct tg_owned *o;
	char *disp = tg_analyze_display(cx, item);
	char *call_disp;
	uint32_t line = ts_node_start_point(call).row + 1;

	o = push(cx, with);
	o->name = tg_analyze_norm(cx, name);
	o->header = tg_xasprintf("%s %s", is_async ? "async with" : "with",
				 disp);
	o->owner_text = tg_analyze_norm(cx, call);
	o->kind = kind;
	o->owner = owner;
	o->is_async = is_async;
	o->body_start = body_start;
	o->line = line;
	call_disp = tg_analyze_display(cx, call);
	switch (kind) {
	case TG_OWNED_BEGIN:
		o->owner_desc = tg_xasprintf(
			"%s at line %u (SQLAlchemy: commits on exit, rolls back on error)",
			call_disp, line);
		break;
	case TG_OWNED_BEGIN_NESTED:
		o->owner_desc = tg_xasprintf(
			"%s at line %u (SQLAlchemy savepoint: released on exit, rolled back on error)",
			call_disp, line);
		break;
	case TG_OWNED_REGISTERED:
		if (owner->origin == TG_OWNER_INFERRED)
			o->owner_desc = tg_xasprintf(
				"%s (owner defined at %s: %s)", owner->name,
				owner->where ? owner->where : "?",
				owner->how ? owner->how : "commits on exit");
		else
			o->owner_desc = tg_xasprintf(
				"%s (owner configured in %s)", owner->name,
				owner->where ? owner->where : ".txguard");
		break;
	}
	free(call_disp);
	free(disp);
}

static TSNode unparen(TSNode n)
{
	while (!ts_node_is_null(n) &&
	       is(ts_node_type(n), "parenthesized_expression") &&
	       ts_node_named_child_count(n) == 1)
		n = ts_node_named_child(n, 0);
	return n;
}

/*
 * §5: which items of a with statement own the transaction, and which
 * names they own: X.begin() / X.begin_nested() own X and the `as`
 * target; a registered owner's call owns its `as` target.
 */
static void with_owners(struct tg_actx *cx, TSNode with)
{
	TSNode body = ts_node_child_by_field_name(with, "body", 4);
	uint32_t body_start = ts_node_is_null(body) ? ts_node_end_byte(with) :
						      ts_node_start_byte(body);
	bool is_async = ts_node_child_count(with) &&
			is(ts_node_type(ts_node_child(with, 0)), "async");
	TSNode clause = { 0 };
	uint32_t n = ts_node_named_child_count(with);

	for (uint32_t i = 0; i < n; i++) {
		TSNode ch = ts_node_named_child(with, i);

		if (is(ts_node_type(ch), "with_clause")) {
			clause = ch;
			break;
		}
	}
	if (ts_node_is_null(clause))
		return;
	n = ts_node_named_child_count(clause);
	for (uint32_t i = 0; i < n; i++) {
		TSNode item = ts_node_named_child(clause, i);
		TSNode value, expr, alias = { 0 }, fn;

		if (!is(ts_node_type(item), "with_item"))
			continue;
		value = ts_node_child_by_field_name(item, "value", 5);
		if (ts_node_is_null(value))
			continue;
		expr = value;
		if (is(ts_node_type(value), "as_pattern")) {
			TSNode t = ts_node_child_by_field_name(value, "alias",
							       5);

			expr = ts_node_named_child(value, 0);
			if (!ts_node_is_null(t) &&
			    ts_node_named_child_count(t) == 1)
				alias = ts_node_named_child(t, 0);
			if (!ts_node_is_null(alias) &&
			    !is(ts_node_type(alias), "identifier") &&
			    !is(ts_node_type(alias), "attribute"))
				alias = (TSNode){ 0 };
		}
		expr = unparen(expr);
		if (ts_node_is_null(expr) || !is(ts_node_type(expr), "call"))
			continue;
		fn = ts_node_child_by_field_name(expr, "function", 8);
		if (ts_node_is_null(fn))
			continue;
		if (is(ts_node_type(fn), "attribute")) {
			TSNode attr = ts_node_child_by_field_name(fn,
								  "attribute", 9);
			TSNode obj = ts_node_child_by_field_name(fn, "object",
								 6);
			size_t len = 0;
			const char *a = "";
			enum tg_owned_kind kind;

			if (!ts_node_is_null(attr))
				a = tg_analyze_text(cx, attr, &len);
			if (len == 5 && !memcmp(a, "begin", 5))
				kind = TG_OWNED_BEGIN;
			else if (len == 12 && !memcmp(a, "begin_nested", 12))
				kind = TG_OWNED_BEGIN_NESTED;
			else
				goto registered;
			if (!ts_node_is_null(obj))
				owner_entry(cx, with, value, obj, expr, kind,
					    NULL, is_async, body_start);
			if (!ts_node_is_null(alias))
				owner_entry(cx, with, value, alias, expr, kind,
					    NULL, is_async, body_start);
			continue;
		}
registered:
		if (!ts_node_is_null(alias) && cx->opts && cx->opts->owners) {
			char *callee = tg_analyze_norm(cx, fn);
			const struct tg_owner *o = tg_owners_match_owner(
				cx->opts->owners, callee, strlen(callee));

			if (o)
				owner_entry(cx, with, value, alias, expr,
					    TG_OWNED_REGISTERED, o, is_async,
					    body_start);
			free(callee);
		}
	}
}

static bool rule_on(const struct tg_actx *cx, const struct tg_rule *rule)
{
	size_t n;
	const struct tg_rule *all = tg_rules_all(&n);

	if (!rule)
		return false;
	if (!cx->opts || !cx->opts->rule_enabled)
		return true;
	return cx->opts->rule_enabled[rule - all];
}

static bool unit_on(const struct tg_actx *cx)
{
	if (cx->unit >= cx->units->nr)
		return false;
	if (cx->opts && (cx->opts->flags & TG_ANALYZE_ALL_UNITS))
		return true;
	return cx->units->v[cx->unit].changed;
}

struct tg_finding *tg_analyze_emit(struct tg_actx *cx, const char *id,
				   TSNode node)
{
	const struct tg_rule *rule = tg_rule_lookup(id);
	struct tg_finding *f;
	TSPoint s = ts_node_start_point(node), e = ts_node_end_point(node);

	if (!unit_on(cx) || !rule_on(cx, rule))
		return NULL;
	f = tg_findings_add(cx->out);
	f->rule = rule;
	f->severity = rule->severity;
	f->path = tg_xstrdup(cx->py->path);
	f->unit = tg_xstrdup(cx->units->v[cx->unit].qualname);
	f->line = s.row + 1;
	f->column = s.column + 1;
	f->end_line = e.row + 1;
	f->end_column = e.column + 1;
	f->call_text = tg_analyze_norm(cx, node);
	f->status = TG_STATUS_NEW;
	return f;
}

/* The unit whose function_definition starts at `start`, or units->nr. */
static size_t unit_at_byte(const struct tg_units *u, uint32_t start)
{
	size_t lo = 1, hi = u->nr;

	/* function units are in pre-order: start bytes increase */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (u->v[mid].start_byte < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < u->nr && u->v[lo].start_byte == start ? lo : u->nr;
}

/* Is unit i, or a unit nested in it, to be analysed? */
static bool subtree_on(const struct tg_actx *cx, size_t i)
{
	if (cx->opts && (cx->opts->flags & TG_ANALYZE_ALL_UNITS))
		return true;
	for (size_t j = i; j < cx->units->v[i].next && j < cx->units->nr; j++)
		if (cx->units->v[j].changed)
			return true;
	return false;
}

struct walk {
	size_t *units; /* enclosing unit indexes */
	size_t nunits, alloc_units;
	bool simple_outside; /* some rule needs simple statements anywhere */
};

/* Returns whether to walk the node's children. */
static bool enter(struct tg_actx *cx, struct walk *w, TSNode node)
{
	unsigned kind = tg_pyparse_kind(ts_node_symbol(node));
	const char *type;
	bool descend = true;

	/*
	 * With no owner block open, nothing in a simple statement can matter
	 * to the rules that do not ask for it: skip it (§12).
	 */
	if ((kind & TG_PK_SIMPLE) && !cx->nstack && !w->simple_outside)
		return false;
	kind &= TG_PK_MASK;
	switch (kind) {
	case TG_PK_FUNCTION: {
		size_t idx = unit_at_byte(cx->units, ts_node_start_byte(node));

		TG_ALLOC_GROW(w->units, w->nunits + 1, w->alloc_units);
		w->units[w->nunits++] = cx->unit;
		push_barrier(cx, node);
		/* a def the unit walk did not see stays in its parent's unit */
		if (idx < cx->units->nr) {
			cx->unit = idx;
			/* nothing to report in here: skip it, nested units and all */
			if (!subtree_on(cx, idx))
				descend = false;
		}
		break;
	}
	case TG_PK_CLASS:
	case TG_PK_LAMBDA:
		/* §5: code in a nested class or lambda is not inside the block */
		push_barrier(cx, node);
		break;
	case TG_PK_WITH:
		with_owners(cx, node);
		break;
	case TG_PK_COMPREHENSION: {
		uint32_t n = ts_node_named_child_count(node);

		for (uint32_t i = 0; cx->nstack && i < n; i++) {
			TSNode ch = ts_node_named_child(node, i);

			if (is(ts_node_type(ch), "for_in_clause"))
				shadow_targets(cx, node, ch);
		}
		break;
	}
	case TG_PK_OTHER:
	case TG_PK_CALL:
	case TG_PK_COMMENT:
	case TG_PK_DECORATED:
		break;
	default:
		bindings(cx, node, kind);
		break;
	}
	type = ts_node_type(node);
	for (size_t i = 0; i < TG_ARRAY_SIZE(rule_ops); i++)
		if (rule_ops[i]->enter)
			rule_ops[i]->enter(cx, node, type);
	return descend;
}

static void leave(struct tg_actx *cx, struct walk *w, TSNode node)
{
	unsigned kind = tg_pyparse_kind(ts_node_symbol(node));
	const char *type = ts_node_type(node);

	if ((kind & TG_PK_SIMPLE) && !cx->nstack && !w->simple_outside)
		return;
	for (size_t i = 0; i < TG_ARRAY_SIZE(rule_ops); i++)
		if (rule_ops[i]->leave)
			rule_ops[i]->leave(cx, node, type);
	pop_for(cx, node);
	if ((kind & TG_PK_MASK) == TG_PK_FUNCTION && w->nunits)
		cx->unit = w->units[--w->nunits];
}

int tg_analyze(struct tg_findings *out, const struct tg_pyfile *py,
	       const struct tg_units *units, const struct tg_analyze_opts *opts)
{
	struct tg_actx cx = { 0 };
	struct walk w = { 0 };
	size_t from = out->nr;
	TSTreeCursor c;

	if (!py->tree || !units->nr)
		return 0;
	cx.py = py;
	cx.units = units;
	cx.opts = opts;
	cx.out = out;
	cx.unit = 0;
	for (size_t i = 0; i < TG_ARRAY_SIZE(rule_ops); i++)
		w.simple_outside |= rule_ops[i]->simple_outside;

	/* §11: iterative walk with enter/leave events, any nesting depth */
	c = ts_tree_cursor_new(ts_tree_root_node(py->tree));
	for (;;) {
		if (enter(&cx, &w, ts_tree_cursor_current_node(&c)) &&
		    ts_tree_cursor_goto_first_child(&c))
			continue;
		do {
			leave(&cx, &w, ts_tree_cursor_current_node(&c));
			if (ts_tree_cursor_goto_next_sibling(&c))
				goto next;
		} while (ts_tree_cursor_goto_parent(&c));
		break;
next:;
	}
	ts_tree_cursor_delete(&c);
	while (cx.nstack)
		owned_release(&cx.stack[--cx.nstack]);
	free(cx.stack);
	free(w.units);
	tg_fingerprint_assign(out, from);
	return 0;
}
