#include "txguard/common.h"
#include "txguard/analyze.h"
#include "txguard/analyze_rule.h"
#include "txguard/finding.h"
#include "txguard/owner_table.h"
#include "txguard/pyparse.h"

/*
 * TX003 transaction-per-iteration (§5): inside a loop body, opening an
 * owner block (X.begin(), a configured or inferred owner), opening a new
 * session (a factory call), or calling commit(). The walk keeps the loop
 * entries (analyze.c: barriers end them, and loops where a transaction
 * per iteration is the design are not pushed); one finding per call.
 *
 * begin_nested() is left alone: a savepoint per row is how a batch
 * skips the rows that fail, and it commits nothing.
 */

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

static void report(struct tg_actx *cx, TSNode call, const struct tg_owned *loop,
		   const char *what, char *owner, char *help)
{
	struct tg_finding *f = tg_analyze_emit(cx, "TX003", call);

	if (!f) {
		free(owner);
		free(help);
		return;
	}
	f->owner = owner;
	f->owner_text = tg_xstrdup(f->call_text);
	f->message = tg_xasprintf("%s %s on every iteration of the loop at line %u%s%s%s",
				  f->call_text, what, loop->line,
				  owner ? " (" : "", owner ? owner : "",
				  owner ? ")" : "");
	f->help = help;
}

/* Is `name` bound by an earlier item of the same with statement? */
static bool opened_here(const struct tg_actx *cx, const char *name,
			TSNode with)
{
	for (size_t i = cx->nstack; i-- > 0;) {
		const struct tg_owned *o = &cx->stack[i];

		if (o->node_id != with.id)
			break;
		if (o->name && !strcmp(o->name, name) &&
		    o->kind != TG_OWNED_BEGIN &&
		    o->kind != TG_OWNED_BEGIN_NESTED)
			return true;
	}
	return false;
}

/* An owner block opened in a loop: `with session.begin():`, `with owner() as s:` */
static void with_items(struct tg_actx *cx, TSNode with)
{
	bool is_async = ts_node_child_count(with) &&
			is(ts_node_type(ts_node_child(with, 0)), "async");
	TSNode clause = { 0 };
	uint32_t n = ts_node_named_child_count(with);

	for (uint32_t i = 0; i < n && ts_node_is_null(clause); i++)
		if (is(ts_node_type(ts_node_named_child(with, i)),
		       "with_clause"))
			clause = ts_node_named_child(with, i);
	if (ts_node_is_null(clause))
		return;
	n = ts_node_named_child_count(clause);
	for (uint32_t i = 0; i < n; i++) {
		TSNode v = tg_child(ts_node_named_child(clause, i), TG_F_VALUE);
		const struct tg_owned *loop;
		const struct tg_owner *o;
		enum tg_call_class cls;
		char *owner, *disp;

		if (!ts_node_is_null(v) && is(ts_node_type(v), "as_pattern"))
			v = ts_node_named_child(v, 0);
		v = unparen(v);
		if (ts_node_is_null(v) || !is(ts_node_type(v), "call"))
			continue;
		if (!tg_analyze_in_loop(cx, ts_node_start_byte(v)))
			return;
		cls = tg_analyze_classify(cx, v, &o);
		if (cls != TG_CALL_BEGIN && cls != TG_CALL_OWNER)
			continue;
		loop = tg_analyze_loop(cx, ts_node_start_byte(v));
		if (!loop)
			return;
		if (cls == TG_CALL_BEGIN) {
			TSNode fn = unparen(tg_child(v, TG_F_FUNCTION));
			TSNode obj = tg_child(fn, TG_F_OBJECT);
			char *name = ts_node_is_null(obj) ?
				tg_xstrdup("") : tg_analyze_norm(cx, obj);
			const struct tg_owned *e = tg_analyze_scope_of(
				cx, name, ts_node_start_byte(v));

			/* the session this iteration opened: reported there */
			if ((e && e->body_start > loop->body_start) ||
			    opened_here(cx, name, with)) {
				free(name);
				continue;
			}
			free(name);
			owner = tg_xstrdup("SQLAlchemy: begin() commits on exit");
		} else {
			if (o->origin == TG_OWNER_INFERRED)
				owner = tg_xasprintf("%s, defined at %s, %s",
						     o->name,
						     o->where ? o->where : "?",
						     o->how ? o->how :
							      "commits on exit");
			else
				owner = tg_xasprintf(
					"%s (owner configured in %s)", o->name,
					o->where ? o->where : ".txguard");
		}
		disp = tg_analyze_display(cx, v);
		report(cx, v, loop, "opens and commits a transaction", owner,
		       tg_xasprintf(
			       "open one transaction around the loop (`%s %s` before the `%s`) so it commits once, or batch the statement; if every item must commit on its own on purpose, suppress with `# txguard: ignore[TX003]`",
			       is_async ? "async with" : "with", disp,
			       loop->header ? loop->header : "loop"));
		free(disp);
	}
}

static void tx003_enter(struct tg_actx *cx, TSNode node, const char *type)
{
	const struct tg_owned *loop, *e;
	const struct tg_owner *o;
	TSNode fn, attr, obj, args;
	const char *a;
	size_t len;
	char *name, *disp;

	if (!cx->nstack)
		return;
	if (is(type, "with_statement")) {
		if (tg_analyze_wants(cx, "TX003"))
			with_items(cx, node);
		return;
	}
	/* the loop itself (does it sleep?) is asked for only for a candidate */
	if (!is(type, "call") ||
	    !tg_analyze_in_loop(cx, ts_node_start_byte(node)) ||
	    !tg_analyze_wants(cx, "TX003"))
		return;
	if (tg_analyze_factory(cx, node, &o)) {
		if (!(loop = tg_analyze_loop(cx, ts_node_start_byte(node))))
			return;
		disp = tg_analyze_display(cx, node);
		report(cx, node, loop, "opens a new session",
		       tg_analyze_factory_desc(cx, node, o),
		       tg_xasprintf(
			       "create the session once, before the loop (`with %s as session:` around it), and commit once after it",
			       disp));
		free(disp);
		return;
	}
	/* commit(): SQLAlchemy's takes no arguments (git's commit("msg") does) */
	fn = tg_child(node, TG_F_FUNCTION);
	args = tg_child(node, TG_F_ARGUMENTS);
	if (ts_node_is_null(fn) || !is(ts_node_type(fn), "attribute") ||
	    ts_node_is_null(args) || ts_node_named_child_count(args))
		return;
	attr = tg_child(fn, TG_F_ATTRIBUTE);
	obj = tg_child(fn, TG_F_OBJECT);
	if (ts_node_is_null(attr) || ts_node_is_null(obj))
		return;
	a = tg_analyze_text(cx, attr, &len);
	if (len != 6 || memcmp(a, "commit", 6) ||
	    !(loop = tg_analyze_loop(cx, ts_node_start_byte(node))))
		return;
	name = tg_analyze_norm(cx, obj);
	e = tg_analyze_scope_of(cx, name, ts_node_start_byte(node));
	/*
	 * An owned session's commit is TX001's; one this iteration opened
	 * was reported where it was opened.
	 */
	if (e && (TG_OWNED_OWNS(e->kind) || e->body_start > loop->body_start)) {
		free(name);
		return;
	}
	report(cx, node, loop, "commits", NULL,
	       tg_xasprintf(
		       "commit once after the loop (or every few hundred rows): a commit per row multiplies round trips and leaves the batch half applied when it fails; `%s` can stay open across the loop",
		       name));
	free(name);
}

const struct tg_rule_ops tg_rule_tx003_ops = {
	"TX003",
	tx003_enter,
	NULL,
	false,
	TG_RULE_KIND(TG_PK_CALL) | TG_RULE_KIND(TG_PK_WITH),
};
