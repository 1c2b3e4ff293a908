#include "txguard/common.h"
#include "txguard/analyze.h"
#include "txguard/analyze_rule.h"
#include "txguard/callee.h"
#include "txguard/finding.h"
#include "txguard/node.h"
#include "txguard/owner_table.h"
#include "txguard/pyparse.h"

/*
 * TX003 transaction-per-iteration: inside a loop body, opening an
 * owner block (X.begin(), a configured or inferred owner), opening a new
 * session (a factory call), or calling commit(). The walk keeps the loop
 * entries (analyze.c: barriers end them, and loops where a transaction
 * per iteration is the design are not pushed); one finding per call.
 *
 * begin_nested() is left alone: a savepoint per row is how a batch
 * skips the rows that fail, and it commits nothing.
 */

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
	bool is_async = tg_node_is_async(with);
	TSNode clause = { 0 };
	uint32_t n = ts_node_named_child_count(with);

	for (uint32_t i = 0; i < n && ts_node_is_null(clause); i++)
		if (tg_node_is(ts_node_named_child(with, i), TG_PK_WITH_CLAUSE))
			clause = ts_node_named_child(with, i);
	if (ts_node_is_null(clause))
		return;
	n = ts_node_named_child_count(clause);
	for (uint32_t i = 0; i < n; i++) {
		TSNode v = tg_node_child(ts_node_named_child(clause, i),
					 TG_F_VALUE);
		const struct tg_owned *loop;
		const struct tg_owner *o;
		enum tg_call_class cls;
		char *owner, *disp;

		if (!ts_node_is_null(v) && tg_node_is(v, TG_PK_AS_PATTERN))
			v = ts_node_named_child(v, 0);
		v = tg_node_unparen(v);
		if (!tg_node_is(v, TG_PK_CALL))
			continue;
		if (!tg_analyze_in_loop(cx, ts_node_start_byte(v)))
			return;
		cls = tg_callee_classify(cx, v, &o);
		if (cls != TG_CALL_BEGIN && cls != TG_CALL_OWNER)
			continue;
		loop = tg_analyze_loop(cx, ts_node_start_byte(v));
		if (!loop)
			return;
		if (cls == TG_CALL_BEGIN) {
			TSNode fn =
				tg_node_unparen(tg_node_child(v, TG_F_FUNCTION));
			TSNode obj = tg_node_child(fn, TG_F_OBJECT);
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

static void tx003_enter(struct tg_actx *cx, TSNode node, unsigned kind)
{
	const struct tg_owned *loop, *e;
	const struct tg_owner *o;
	TSNode fn, attr, obj, args;
	const char *a;
	size_t len;
	char *name, *disp;

	if (!cx->nstack)
		return;
	if (kind == TG_PK_WITH) {
		if (tg_analyze_wants(cx, "TX003"))
			with_items(cx, node);
		return;
	}
	/* the loop itself (does it sleep?) is asked for only for a candidate */
	if (kind != TG_PK_CALL ||
	    !tg_analyze_in_loop(cx, ts_node_start_byte(node)) ||
	    !tg_analyze_wants(cx, "TX003"))
		return;
	if (tg_callee_is_factory(cx, node, &o)) {
		if (!(loop = tg_analyze_loop(cx, ts_node_start_byte(node))))
			return;
		disp = tg_analyze_display(cx, node);
		report(cx, node, loop, "opens a new session",
		       tg_callee_factory_desc(cx, node, o),
		       tg_xasprintf(
			       "create the session once, before the loop (`with %s as session:` around it), and commit once after it",
			       disp));
		free(disp);
		return;
	}
	/* commit(): SQLAlchemy's takes no arguments (git's commit("msg") does) */
	fn = tg_node_child(node, TG_F_FUNCTION);
	args = tg_node_child(node, TG_F_ARGUMENTS);
	if (!tg_node_is(fn, TG_PK_ATTRIBUTE) ||
	    ts_node_is_null(args) || ts_node_named_child_count(args))
		return;
	attr = tg_node_child(fn, TG_F_ATTRIBUTE);
	obj = tg_node_child(fn, TG_F_OBJECT);
	if (ts_node_is_null(attr) || ts_node_is_null(obj))
		return;
	a = tg_node_text(cx->py, attr, &len);
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
