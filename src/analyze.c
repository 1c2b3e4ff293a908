#include "txguard/common.h"
#include "txguard/analyze.h"
#include "txguard/analyze_rule.h"
#include "txguard/buf.h"
#include "txguard/callee.h"
#include "txguard/error.h"
#include "txguard/finding.h"
#include "txguard/fingerprint.h"
#include "txguard/node.h"
#include "txguard/pyparse.h"
#include "txguard/reqscope.h"
#include "txguard/rules.h"
#include "txguard/units.h"

#include <strings.h>

/*
 * The rules, one file each. The walk keeps the scopes they share:
 * owner blocks, request-scoped parameters (Depends, pushed on entering
 * their function), sessions from factories, and loop bodies.
 */
static const struct tg_rule_ops *const rule_ops[] = {
	&tg_rule_tx001_ops,
	&tg_rule_tx002_ops,
	&tg_rule_tx003_ops,
	&tg_rule_tx004_ops,
};

bool tg_analyze_implements(const char *id)
{
	for (size_t i = 0; id && i < TG_ARRAY_SIZE(rule_ops); i++)
		if (!strcasecmp(rule_ops[i]->id, id))
			return true;
	return false;
}

char *tg_analyze_norm(const struct tg_actx *cx, TSNode node)
{
	size_t len;
	const char *s = tg_node_text(cx->py, node, &len);

	return tg_fingerprint_normalize(s, len);
}

char *tg_analyze_display(const struct tg_actx *cx, TSNode node)
{
	struct tg_buf b = TG_BUF_INIT;
	size_t len;
	const char *s = tg_node_text(cx->py, node, &len);
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

struct tg_owned *tg_analyze_push(struct tg_actx *cx, TSNode node)
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
	TSNode body = tg_node_child(node, TG_F_BODY);
	struct tg_owned *o = tg_analyze_push(cx, node);

	o->barrier = true;
	o->body_start = ts_node_is_null(body) ? ts_node_start_byte(node) :
						ts_node_start_byte(body);
}

static void pop_for(struct tg_actx *cx, TSNode node)
{
	while (cx->nstack && cx->stack[cx->nstack - 1].node_id == node.id)
		owned_release(&cx->stack[--cx->nstack]);
}

const struct tg_owned *tg_analyze_scope_of(const struct tg_actx *cx,
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
		if (o->loop || strcmp(o->name, name))
			continue;
		if (o->shadow)
			return NULL;
		/* pushed by the statement `at` is in, whose body is later */
		if (at < o->body_start)
			continue;
		if (at >= o->dead_from)
			return NULL;
		return o;
	}
	return NULL;
}

const struct tg_owned *tg_analyze_owned(const struct tg_actx *cx,
					const char *name, uint32_t at)
{
	const struct tg_owned *o = tg_analyze_scope_of(cx, name, at);

	return o && !o->shadow && TG_OWNED_OWNS(o->kind) ? o : NULL;
}

static bool body_sleeps(const struct tg_actx *cx, TSNode body);

const struct tg_owned *tg_analyze_loop(const struct tg_actx *cx, uint32_t at)
{
	for (size_t i = cx->nstack; i-- > 0;) {
		struct tg_owned *o = &cx->stack[i];

		if (o->barrier && at >= o->body_start)
			return NULL;
		if (!o->loop || at < o->body_start || at >= o->body_end)
			continue;
		/* a polling loop is not one (push_loop): look further out */
		if (o->sleeps < 0)
			o->sleeps = body_sleeps(cx, o->body);
		if (!o->sleeps)
			return o;
	}
	return NULL;
}

bool tg_analyze_in_loop(const struct tg_actx *cx, uint32_t at)
{
	for (size_t i = cx->nstack; i-- > 0;) {
		const struct tg_owned *o = &cx->stack[i];

		if (o->barrier && at >= o->body_start)
			return false;
		if (o->loop && at >= o->body_start && at < o->body_end &&
		    o->sleeps <= 0)
			return true;
	}
	return false;
}

/*
 * Rebinding `name` at byte `pos` (by a statement starting at `stmt`)
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
		if (o->loop || o->body_start > stmt)
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
		unsigned kind = tg_node_kind(n);
		bool descend = true;

		if (kind == TG_PK_IDENTIFIER || kind == TG_PK_ATTRIBUTE) {
			kill_node(cx, n, stmt, pos);
			descend = false;
		} else if (kind == TG_PK_SUBSCRIPT) {
			descend = false;
		}
		if (!tg_cursor_next(&c, descend))
			break;
	}
	ts_tree_cursor_delete(&c);
}

/*
 * A comprehension's variables live in the comprehension's own scope: they
 * hide an owned name of the same spelling inside it and rebind nothing
 * outside. The shadow entries go with the comprehension node.
 */
static void shadow_targets(struct tg_actx *cx, TSNode comp, TSNode clause)
{
	TSNode left = tg_node_child(clause, TG_F_LEFT);
	TSTreeCursor c;

	if (!cx->nstack || ts_node_is_null(left))
		return;
	c = ts_tree_cursor_new(left);
	for (;;) {
		TSNode n = ts_tree_cursor_current_node(&c);
		unsigned kind = tg_node_kind(n);

		if (kind == TG_PK_IDENTIFIER) {
			struct tg_owned *o = tg_analyze_push(cx, comp);

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

/* Can kill() end anything: a named entry above the innermost barrier? */
static bool killable(const struct tg_actx *cx)
{
	for (size_t i = cx->nstack; i-- > 0;) {
		if (cx->stack[i].barrier)
			return false;
		if (!cx->stack[i].loop)
			return true;
	}
	return false;
}

static void bindings(struct tg_actx *cx, TSNode node, unsigned kind)
{
	uint32_t start = ts_node_start_byte(node), end = ts_node_end_byte(node);

	if (!killable(cx))
		return;
	if (kind == TG_PK_ASSIGNMENT) {
		/* an annotation alone (`s: Session`) binds nothing */
		if (ts_node_is_null(tg_node_child(node, TG_F_RIGHT)))
			return;
		kill_targets(cx, tg_node_child(node, TG_F_LEFT), start, end);
	} else if (kind == TG_PK_AUGASSIGN) {
		kill_targets(cx, tg_node_child(node, TG_F_LEFT), start, end);
	} else if (kind == TG_PK_FOR) {
		TSNode right = tg_node_child(node, TG_F_RIGHT);

		kill_targets(cx, tg_node_child(node, TG_F_LEFT),
			     start,
			     ts_node_is_null(right) ? start :
						      ts_node_end_byte(right));
	} else if (kind == TG_PK_AS_PATTERN) {
		kill_targets(cx, tg_node_child(node, TG_F_ALIAS), start, end);
	} else if (kind == TG_PK_NAMED_EXPR) {
		kill_targets(cx, tg_node_child(node, TG_F_NAME), start, end);
	} else if (kind == TG_PK_DELETE) {
		kill_targets(cx, ts_node_named_child(node, 0), start, end);
	} else if (kind == TG_PK_GLOBAL) {
		kill_targets(cx, node, start, start);
	} else if (kind == TG_PK_IMPORT || kind == TG_PK_IMPORT_FROM) {
		uint32_t n = ts_node_named_child_count(node);

		for (uint32_t i = 0; i < n; i++) {
			TSNode ch = ts_node_named_child(node, i);
			unsigned t = tg_node_kind(ch);

			if (t == TG_PK_ALIASED_IMPORT) {
				kill_targets(cx, tg_node_child(ch, TG_F_ALIAS),
					     start, end);
			} else if (t == TG_PK_DOTTED_NAME) {
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
	char *call_disp, *fd;
	uint32_t line = ts_node_start_point(call).row + 1;

	o = tg_analyze_push(cx, with);
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
		o->owner_desc = tg_callee_owner_desc(owner);
		break;
	default:
		fd = tg_callee_factory_desc(cx, call, owner);
		o->owner_desc = tg_xasprintf(
			"%s at line %u (%s: closes the session on exit)",
			call_disp, line, fd);
		free(fd);
		break;
	}
	free(call_disp);
	free(disp);
}

/*
 * Which items of a with statement own the transaction, and which
 * names they own: X.begin() / X.begin_nested() own X and the `as`
 * target; a registered owner's call owns its `as` target. A factory's
 * `as` target is a session the block closes: not owned, but a scope
 * (TX004) that hides an outer owner of the same name.
 */
static void with_owners(struct tg_actx *cx, TSNode with)
{
	TSNode body = tg_node_child(with, TG_F_BODY);
	uint32_t body_start = ts_node_is_null(body) ? ts_node_end_byte(with) :
						      ts_node_start_byte(body);
	bool is_async = tg_node_is_async(with);
	TSNode clause = { 0 };
	uint32_t n = ts_node_named_child_count(with);

	for (uint32_t i = 0; i < n; i++) {
		TSNode ch = ts_node_named_child(with, i);

		if (tg_node_is(ch, TG_PK_WITH_CLAUSE)) {
			clause = ch;
			break;
		}
	}
	if (ts_node_is_null(clause))
		return;
	n = ts_node_named_child_count(clause);
	for (uint32_t i = 0; i < n; i++) {
		TSNode item = ts_node_named_child(clause, i);
		TSNode value, expr, alias = { 0 }, fn, obj;
		const struct tg_owner *o;
		enum tg_call_class cls;

		if (!tg_node_is(item, TG_PK_WITH_ITEM))
			continue;
		value = tg_node_child(item, TG_F_VALUE);
		if (ts_node_is_null(value))
			continue;
		expr = value;
		if (tg_node_is(value, TG_PK_AS_PATTERN)) {
			TSNode t = tg_node_child(value, TG_F_ALIAS);

			expr = ts_node_named_child(value, 0);
			if (!ts_node_is_null(t) &&
			    ts_node_named_child_count(t) == 1)
				alias = ts_node_named_child(t, 0);
			if (!ts_node_is_null(alias) &&
			    !tg_node_is(alias, TG_PK_IDENTIFIER) &&
			    !tg_node_is(alias, TG_PK_ATTRIBUTE))
				alias = (TSNode){ 0 };
		}
		expr = tg_node_unparen(expr);
		if (!tg_node_is(expr, TG_PK_CALL))
			continue;
		cls = tg_callee_classify(cx, expr, &o);
		switch (cls) {
		case TG_CALL_BEGIN:
		case TG_CALL_BEGIN_NESTED: {
			enum tg_owned_kind kind = cls == TG_CALL_BEGIN ?
							  TG_OWNED_BEGIN :
							  TG_OWNED_BEGIN_NESTED;

			fn = tg_node_unparen(
				tg_node_child(expr, TG_F_FUNCTION));
			obj = tg_node_child(fn, TG_F_OBJECT);
			if (!ts_node_is_null(obj))
				owner_entry(cx, with, value, obj, expr, kind,
					    NULL, is_async, body_start);
			if (!ts_node_is_null(alias))
				owner_entry(cx, with, value, alias, expr, kind,
					    NULL, is_async, body_start);
			break;
		}
		case TG_CALL_OWNER:
			if (!ts_node_is_null(alias))
				owner_entry(cx, with, value, alias, expr,
					    TG_OWNED_REGISTERED, o, is_async,
					    body_start);
			break;
		case TG_CALL_FACTORY:
			if (!ts_node_is_null(alias))
				owner_entry(cx, with, value, alias, expr,
					    TG_OWNED_CLOSING, o, is_async,
					    body_start);
			break;
		case TG_CALL_NONE:
			break;
		}
	}
}

/* Does the loop body call sleep() (a polling loop)? Inner loops aside. */
static bool body_sleeps(const struct tg_actx *cx, TSNode body)
{
	TSTreeCursor c = ts_tree_cursor_new(body);
	bool yes = false;

	for (;;) {
		TSNode n = ts_tree_cursor_current_node(&c);
		unsigned kind = tg_pyparse_kind(ts_node_symbol(n)) & TG_PK_MASK;
		bool descend = true;

		if (kind == TG_PK_FUNCTION || kind == TG_PK_CLASS ||
		    kind == TG_PK_LAMBDA || kind == TG_PK_FOR ||
		    kind == TG_PK_WHILE) {
			descend = false;
		} else if (kind == TG_PK_CALL &&
			   tg_node_callee_is(cx->py, n, "sleep")) {
			yes = true;
			break;
		}
		if (!tg_cursor_next(&c, descend))
			break;
	}
	ts_tree_cursor_delete(&c);
	return yes;
}

static bool has_word(const char *s, size_t len, const char *w)
{
	size_t n = strlen(w);

	for (size_t i = 0; i + n <= len; i++)
		if (!strncasecmp(s + i, w, n))
			return true;
	return false;
}

/*
 * TX003 loops: a for/while body. Loops where one transaction per
 * iteration is the design stay off the stack: service loops (`while
 * True`), streams (`async for`) and retry loops (`for attempt in
 * range(3)`, tenacity's Retrying); polling loops that sleep are pushed
 * but passed over by tg_analyze_loop(), which asks only when a rule
 * needs the loop (most loops never hold a candidate call).
 */
static void push_loop(struct tg_actx *cx, TSNode node, bool is_for)
{
	TSNode body = tg_node_child(node, TG_F_BODY);
	struct tg_owned *o;

	if (ts_node_is_null(body))
		return;
	if (is_for) {
		TSNode left = tg_node_child(node, TG_F_LEFT);
		TSNode right = tg_node_unparen(tg_node_child(node, TG_F_RIGHT));

		if (tg_node_is_async(node))
			return;
		if (!ts_node_is_null(left) &&
		    tg_node_is(left, TG_PK_IDENTIFIER)) {
			size_t len;
			const char *s = tg_node_text(cx->py, left, &len);

			if (has_word(s, len, "attempt") ||
			    has_word(s, len, "retr") || has_word(s, len, "tries"))
				return;
		}
		if (tg_node_callee_is(cx->py, right, "Retrying") ||
		    tg_node_callee_is(cx->py, right, "AsyncRetrying") ||
		    tg_node_callee_is(cx->py, right, "retry_context"))
			return;
	} else {
		TSNode cond =
			tg_node_unparen(tg_node_child(node, TG_F_CONDITION));
		size_t len = 0;
		const char *s = "";

		if (!ts_node_is_null(cond))
			s = tg_node_text(cx->py, cond, &len);
		if (tg_node_text_is(s, len, "True") ||
		    tg_node_text_is(s, len, "1"))
			return;
	}
	/* whether it sleeps is asked when a rule needs the loop */
	o = tg_analyze_push(cx, node);
	o->loop = true;
	o->sleeps = -1;
	o->body = body;
	o->header = tg_xstrdup(!is_for ? "while" : "for");
	o->body_start = ts_node_start_byte(body);
	o->body_end = ts_node_end_byte(body);
	o->line = ts_node_start_point(node).row + 1;
}

/*
 * Push a TG_OWNED_CREATED entry for `name` (a normalised identifier)
 * bound at `bind` by a factory call, live from `bind`'s end until the
 * enclosing block `block` ends.
 */
static void push_created(struct tg_actx *cx, TSNode block, TSNode bind,
			 TSNode name, TSNode call)
{
	struct tg_owned *o = tg_analyze_push(cx, block);

	o->name = tg_analyze_norm(cx, name);
	o->header = tg_analyze_display(cx, bind);
	o->owner_text = tg_analyze_norm(cx, call);
	o->kind = TG_OWNED_CREATED;
	o->bind_id = bind.id;
	o->body_start = ts_node_end_byte(bind);
	o->line = ts_node_start_point(call).row + 1;
}

/*
 * `s = factory()` as a statement of a block: a session the rules
 * follow (TX002 whether it is closed, TX003 whether the loop iteration
 * opened it). The walk hands over the statement and the block it is in:
 * ts_node_parent() would climb from the root for every assignment.
 */
static void created(struct tg_actx *cx, TSNode node, TSNode stmt,
		    TSNode block)
{
	TSNode left, right;
	const struct tg_owner *o;
	size_t len;
	const char *text = tg_node_text(cx->py, node, &len);

	/*
	 * Most assignments bind no call: the right side of `s = f()`
	 * holds a '(' (arguments or a generator); skip the field lookups.
	 */
	if (!memchr(text, '(', len))
		return;
	left = tg_node_child(node, TG_F_LEFT);
	right = tg_node_unparen(tg_node_child(node, TG_F_RIGHT));
	if (!tg_node_is(left, TG_PK_IDENTIFIER) ||
	    !tg_node_is(right, TG_PK_CALL) ||
	    ts_node_is_null(stmt) ||
	    !tg_node_is(stmt, TG_PK_EXPR_STMT))
		return;
	if (ts_node_is_null(block) || !tg_callee_is_factory(cx, right, &o))
		return;
	push_created(cx, block, node, left, right);
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

bool tg_analyze_wants(const struct tg_actx *cx, const char *id)
{
	return unit_on(cx) && rule_on(cx, tg_rules_lookup(id));
}

struct tg_finding *tg_analyze_emit(struct tg_actx *cx, const char *id,
				   TSNode node)
{
	const struct tg_rule *rule = tg_rules_lookup(id);
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
	TSNode *anc;   /* the ancestors of the cursor's node, root first */
	size_t nanc, alloc_anc;
	bool simple_outside; /* some rule needs simple statements anywhere */
	unsigned long long hooked; /* the kinds some rule's hooks see */
	bool every_node;     /* the tree has errors: no subtree is skipped */
};

static TSNode ancestor(const struct walk *w, size_t up)
{
	return up < w->nanc ? w->anc[w->nanc - 1 - up] : (TSNode){ 0 };
}

/*
 * Is any entry visible at byte `at`: one above the innermost barrier, or
 * below it when `at` is before the barrier's body (a default value, a
 * decorator)? Barriers alone change nothing the rules can see.
 */
static bool live_at(const struct tg_actx *cx, uint32_t at)
{
	for (size_t i = cx->nstack; i-- > 0;) {
		const struct tg_owned *o = &cx->stack[i];

		if (!o->barrier)
			return true;
		if (at >= o->body_start)
			return false;
	}
	return false;
}

/*
 * Whether the walk can pass `node` by without entering it. With no
 * entry visible, only statements open scopes (owner and factory blocks,
 * loops, request-scoped parameters, `s = factory()` statements, nested
 * defs): nothing under an expression can report or change the stack for
 * what follows, so the walk keeps to the nodes that hold statements, the
 * expression statements and their assignments. A tree with errors is
 * walked whole: ERROR nodes can hold statements anywhere.
 */
static bool passes_by(const struct tg_actx *cx, const struct walk *w,
		      TSNode node, unsigned kind)
{
	if (w->every_node || (kind & TG_PK_HOLDS))
		return false;
	kind &= TG_PK_MASK;
	if (kind == TG_PK_EXPR_STMT)
		return false;
	if (kind == TG_PK_ASSIGNMENT &&
	    (tg_pyparse_kind(ts_node_symbol(ancestor(w, 0))) & TG_PK_MASK) ==
		    TG_PK_EXPR_STMT)
		return false;
	return !live_at(cx, ts_node_start_byte(node));
}

/* Returns whether to walk the node's children. */
static bool enter(struct tg_actx *cx, struct walk *w, TSNode node,
		  unsigned kind)
{
	bool descend = true;

	/*
	 * With no owner block open, nothing in a simple statement can matter
	 * to the rules that do not ask for it: skip it.
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
		if (descend)
			tg_reqscope_enter(cx, node);
		break;
	}
	case TG_PK_CLASS:
	case TG_PK_LAMBDA:
		/* Code in a nested class or lambda is not inside the block */
		push_barrier(cx, node);
		break;
	case TG_PK_WITH:
		with_owners(cx, node);
		break;
	case TG_PK_COMPREHENSION: {
		uint32_t n = ts_node_named_child_count(node);

		for (uint32_t i = 0; cx->nstack && i < n; i++) {
			TSNode ch = ts_node_named_child(node, i);

			if (tg_node_is(ch, TG_PK_FOR_IN_CLAUSE))
				shadow_targets(cx, node, ch);
		}
		break;
	}
	case TG_PK_FOR:
		push_loop(cx, node, true);
		bindings(cx, node, kind);
		break;
	case TG_PK_WHILE:
		push_loop(cx, node, false);
		break;
	case TG_PK_ASSIGNMENT:
		bindings(cx, node, kind);
		created(cx, node, ancestor(w, 0), ancestor(w, 1));
		break;
	case TG_PK_AUGASSIGN:
	case TG_PK_AS_PATTERN:
	case TG_PK_NAMED_EXPR:
	case TG_PK_DELETE:
	case TG_PK_GLOBAL:
	case TG_PK_IMPORT:
	case TG_PK_IMPORT_FROM:
		bindings(cx, node, kind);
		break;
	default:
		break;
	}
	if (!(w->hooked & TG_RULE_KIND(kind)))
		return descend;
	for (size_t i = 0; i < TG_ARRAY_SIZE(rule_ops); i++)
		if (rule_ops[i]->enter &&
		    (rule_ops[i]->kinds & TG_RULE_KIND(kind)))
			rule_ops[i]->enter(cx, node, kind);
	return descend;
}

static void leave(struct tg_actx *cx, struct walk *w, TSNode node)
{
	unsigned kind = tg_pyparse_kind(ts_node_symbol(node));

	if ((kind & TG_PK_SIMPLE) && !cx->nstack && !w->simple_outside)
		return;
	kind &= TG_PK_MASK;
	if (w->hooked & TG_RULE_KIND(kind)) {
		for (size_t i = 0; i < TG_ARRAY_SIZE(rule_ops); i++)
			if (rule_ops[i]->leave &&
			    (rule_ops[i]->kinds & TG_RULE_KIND(kind)))
				rule_ops[i]->leave(cx, node, kind);
	}
	pop_for(cx, node);
	if (kind == TG_PK_FUNCTION && w->nunits)
		cx->unit = w->units[--w->nunits];
}

/*
 * Walk the children of `parent` (entered, the top of w->anc) with a
 * cursor, or with `after` only those after that child. Iterative,
 * enter/leave events, any nesting depth.
 */
static void walk_children(struct tg_actx *cx, struct walk *w, TSNode parent,
			  const void *after)
{
	TSTreeCursor c = ts_tree_cursor_new(parent);
	size_t base = w->nanc;

	if (!ts_tree_cursor_goto_first_child(&c))
		goto done;
	if (after) {
		while (ts_tree_cursor_current_node(&c).id != after)
			if (!ts_tree_cursor_goto_next_sibling(&c))
				goto done;
		if (!ts_tree_cursor_goto_next_sibling(&c))
			goto done;
	}
	for (;;) {
		TSNode node = ts_tree_cursor_current_node(&c);
		unsigned kind = tg_pyparse_kind(ts_node_symbol(node));
		bool entered = !passes_by(cx, w, node, kind);

		if (entered && enter(cx, w, node, kind)) {
			if (ts_tree_cursor_goto_first_child(&c)) {
				TG_ALLOC_GROW(w->anc, w->nanc + 1, w->alloc_anc);
				w->anc[w->nanc++] = node;
				continue;
			}
		}
		if (entered)
			leave(cx, w, node);
		while (!ts_tree_cursor_goto_next_sibling(&c)) {
			if (w->nanc == base)
				goto done;
			ts_tree_cursor_goto_parent(&c);
			leave(cx, w, w->anc[--w->nanc]);
		}
	}
done:
	ts_tree_cursor_delete(&c);
}

/* enter() and the walk of its children done, leave() */
static void walk_entered(struct tg_actx *cx, struct walk *w, TSNode node)
{
	TG_ALLOC_GROW(w->anc, w->nanc + 1, w->alloc_anc);
	w->anc[w->nanc++] = node;
	walk_children(cx, w, node, NULL);
	leave(cx, w, w->anc[--w->nanc]);
}

static void walk_node(struct tg_actx *cx, struct walk *w, TSNode node)
{
	unsigned kind = tg_pyparse_kind(ts_node_symbol(node));

	if (passes_by(cx, w, node, kind))
		return;
	if (enter(cx, w, node, kind))
		walk_entered(cx, w, node);
	else
		leave(cx, w, node);
}

/* Did entering `node` push an entry that code inside it can see? */
static bool pushed_live(const struct tg_actx *cx, TSNode node)
{
	for (size_t i = cx->nstack; i-- > 0;) {
		const struct tg_owned *o = &cx->stack[i];

		if (o->node_id != node.id)
			return false;
		if (!o->barrier)
			return true;
	}
	return false;
}

/*
 * The walk over a tree without errors, from the unit walk's skeleton:
 * while no entry is visible, only the skeleton's statements can open a
 * scope (passes_by() would skip everything else), so those are entered
 * and left in the order the full walk would; a statement that opens a
 * scope has its children walked with a cursor, and `s = factory()` the
 * rest of its block.
 */
static void replay(struct tg_actx *cx, struct walk *w,
		   const struct tg_skeleton *sk)
{
	uint32_t *ends = NULL; /* skeleton ends of the open nodes (w->anc) */
	size_t base = w->nanc, nends = 0, alloc_ends = 0;
	size_t i = 0;

	while (i < sk->nr) {
		TSNode node = sk->v[i].node;
		unsigned kind;

		/* leave the nodes whose descendants are done */
		while (nends && ends[nends - 1] <= i) {
			nends--;
			leave(cx, w, w->anc[--w->nanc]);
		}
		kind = tg_pyparse_kind(ts_node_symbol(node));
		if (live_at(cx, ts_node_start_byte(node))) {
			walk_node(cx, w, node);
			i = sk->v[i].end;
			continue;
		}
		if (!enter(cx, w, node, kind)) {
			leave(cx, w, node);
			i = sk->v[i].end;
			continue;
		}
		if ((kind & TG_PK_MASK) == TG_PK_ASSIGNMENT && cx->nstack &&
		    cx->stack[cx->nstack - 1].bind_id == node.id && nends >= 2) {
			/* `s = factory()`: the rest of the block is its scope */
			TSNode stmt = w->anc[w->nanc - 1];

			walk_entered(cx, w, node);
			nends--;
			leave(cx, w, w->anc[--w->nanc]);
			walk_children(cx, w, w->anc[w->nanc - 1], stmt.id);
			i = ends[nends - 1];
			continue;
		}
		if (pushed_live(cx, node)) {
			walk_entered(cx, w, node);
			i = sk->v[i].end;
			continue;
		}
		if ((kind & TG_PK_MASK) == TG_PK_ASSIGNMENT) {
			/* nothing visible: its children would be passed by */
			leave(cx, w, node);
			i++;
			continue;
		}
		TG_ALLOC_GROW(w->anc, w->nanc + 1, w->alloc_anc);
		w->anc[w->nanc++] = node;
		TG_ALLOC_GROW(ends, nends + 1, alloc_ends);
		ends[nends++] = sk->v[i].end;
		i++;
	}
	while (w->nanc > base)
		leave(cx, w, w->anc[--w->nanc]);
	free(ends);
}

int tg_analyze(struct tg_findings *out, const struct tg_pyfile *py,
	       const struct tg_units *units, const struct tg_analyze_opts *opts)
{
	struct tg_actx cx = { 0 };
	struct tg_classify_memo memo = { 0 };
	struct walk w = { 0 };
	size_t from = out->nr;

	if (!py->tree || !units->nr)
		return 0;
	cx.py = py;
	cx.units = units;
	cx.opts = opts;
	cx.out = out;
	cx.unit = 0;
	cx.memo = &memo;
	for (size_t i = 0; i < TG_ARRAY_SIZE(rule_ops); i++) {
		w.simple_outside |= rule_ops[i]->simple_outside;
		w.hooked |= rule_ops[i]->kinds;
	}
	w.every_node = py->has_errors;

	if (!w.every_node && units->skel && units->skel->tree == py->tree &&
	    units->skel->nr)
		replay(&cx, &w, units->skel);
	else
		walk_node(&cx, &w, ts_tree_root_node(py->tree));
	while (cx.nstack)
		owned_release(&cx.stack[--cx.nstack]);
	free(cx.stack);
	free(w.units);
	free(w.anc);
	tg_callee_memo_release(&memo);
	tg_fingerprint_assign(out, from);
	return 0;
}
