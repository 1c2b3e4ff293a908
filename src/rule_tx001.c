#include "txguard/common.h"
#include "txguard/analyze.h"
#include "txguard/argsel.h"
#include "txguard/analyze_rule.h"
#include "txguard/callee.h"
#include "txguard/finding.h"
#include "txguard/node.h"
#include "txguard/owner_table.h"
#include "txguard/pyparse.h"
#include "txguard/resolver.h"

#include <ctype.h>

/*
 * TX001 double-transaction: commit() or rollback() on a name an
 * enclosing owner block provides. The owner-scope stack (analyze.c) has
 * already applied barriers and rebindings; this file decides what a
 * violating call is and how to explain it.
 */

/*
 * The manager to suggest for manual control: a configured factory of the
 * same flavour (async in its name for `async with`) if any.
 */
static char *close_only_example(const struct tg_actx *cx,
				const struct tg_owned *o)
{
	const struct tg_owner_table *reg = cx->opts ? cx->opts->owners : NULL;

	for (size_t i = 0; reg && i < reg->nfactories; i++) {
		const char *name = reg->factories[i].name;
		const char *last = strrchr(name, '.');

		if (!strstr(name, "async") != !o->is_async)
			continue;
		return tg_xasprintf("%s %s() as %s:",
				    o->is_async ? "async with" : "with",
				    last ? last + 1 : name, o->name);
	}
	return tg_xasprintf("%s as %s:",
			    o->is_async ? "async with async_session_factory()" :
					  "with Session(engine)",
			    o->name);
}

/* A parameter a decorator injects: its header is the decorator. */
static bool injected(const struct tg_owned *o)
{
	return o->header && o->header[0] == '@';
}

static char *help_for(const struct tg_actx *cx, const struct tg_owned *o,
		      bool commit)
{
	char *example, *help;

	if (!commit)
		return tg_xstrdup(
			injected(o) ?
				"raise instead of rolling back: an exception leaving the decorated function rolls back" :
				"raise instead of rolling back: an exception leaving the block rolls back");
	if (injected(o)) {
		example = close_only_example(cx, o);
		help = tg_xasprintf(
			"remove this call: the session `%s` injects commits when the decorated function returns; if you need manual control, open one that only closes instead (`%s`)",
			o->header, example);
		free(example);
		return help;
	}
	if (o->kind == TG_OWNED_BEGIN)
		return tg_xasprintf(
			"remove this call: `%s` commits when the block exits; if you need manual control, open the session or connection without begin() and commit explicitly",
			o->owner_text);
	if (o->kind == TG_OWNED_BEGIN_NESTED)
		return tg_xasprintf(
			"remove this call: it commits the enclosing transaction from inside the savepoint `%s`; let the block release the savepoint and commit after the outer transaction's work is done",
			o->owner_text);
	example = close_only_example(cx, o);
	if (o->kind == TG_OWNED_REQUEST)
		help = tg_xasprintf(
			"remove this call: the dependency `%s` commits after the endpoint returns; if you need manual control, depend on a dependency that only closes the session (one that yields from `%s`) and commit explicitly",
			o->owner_text, example);
	else
		help = tg_xasprintf(
			"remove this call: the block commits when it exits; if you need manual control use a manager that only closes, e.g. `%s`",
			example);
	free(example);
	return help;
}

/*
 * The statement after the call's own in its block (comments aside), or
 * a null node (none, or the call is not a statement of its own).
 */
static TSNode next_statement(TSNode call)
{
	TSNode n = ts_node_parent(call);

	if (tg_node_is(n, TG_PK_AWAIT))
		n = ts_node_parent(n);
	if (!tg_node_is(n, TG_PK_EXPR_STMT))
		return (TSNode){ 0 };
	do
		n = ts_node_next_named_sibling(n);
	while (!ts_node_is_null(n) && tg_node_is(n, TG_PK_COMMENT));
	return n;
}

/* Does a statement follow the call's own in its block? */
static bool followed(TSNode call)
{
	return !ts_node_is_null(next_statement(call));
}

/* The owner's kind as `txguard fix` needs it. */
static enum tg_fix_owner fix_owner_of(const struct tg_owned *o)
{
	switch (o->kind) {
	case TG_OWNED_BEGIN:
		return TG_FIX_OWNER_BEGIN;
	case TG_OWNED_BEGIN_NESTED:
		return TG_FIX_OWNER_SAVEPOINT;
	case TG_OWNED_REGISTERED:
		return TG_FIX_OWNER_MANAGER;
	case TG_OWNED_REQUEST:
		return TG_FIX_OWNER_REQUEST;
	default:
		return TG_FIX_OWNER_NONE;
	}
}

/* Is the statement after the call's own a `raise` (comments aside)? */
static bool raised_after(const struct tg_actx *cx, TSNode call)
{
	TSNode n = next_statement(call);
	size_t len;
	const char *s;

	if (ts_node_is_null(n))
		return false;
	s = tg_node_text(cx->py, n, &len);
	return len >= 5 && !memcmp(s, "raise", 5) &&
	       (len == 5 || (!isalnum((unsigned char)s[5]) && s[5] != '_'));
}

/*
 * The argument that turns a guarded commit off: "commit=False" for the
 * guard "commit:2:t", "no_commit=True" for "!no_commit:2:f".
 */
static char *switch_off(const char *guard)
{
	size_t len;
	bool negate;
	const char *name = tg_argsel_guard_param(guard, &len, &negate);

	return tg_xasprintf("%.*s=%s", (int)len, name,
			    negate ? "True" : "False");
}

/* `svc.create(session)` with session owned, and create commits it. */
static void report_callee(struct tg_actx *cx, TSNode call,
			  const struct tg_owned *o,
			  const struct tg_commit_site *site)
{
	struct tg_finding *f = tg_analyze_emit(cx, "TX001", call);
	bool commit = site->verb && !strcmp(site->verb, "commit");
	const char *first = site->callee;
	char *what, *off;

	if (!f)
		return;
	f->owner_text = tg_xstrdup(o->owner_text);
	f->owner = tg_xstrdup(o->owner_desc);
	what = tg_xasprintf("%s %s its `%s` parameter at %s", first,
			    commit ? "commits" : "rolls back", site->param,
			    site->where);
	if (o->kind == TG_OWNED_REQUEST)
		f->message = tg_xasprintf(
			"%s on the request-scoped `%s` (`%s`), whose dependency already commits when the request ends: %s",
			f->call_text, o->name, o->header, what);
	else if (injected(o))
		f->message = tg_xasprintf(
			"%s in a function decorated `%s`, whose session already commits when the function returns: %s",
			f->call_text, o->header, what);
	else
		f->message = tg_xasprintf(
			"%s inside `%s`, which already %s: %s", f->call_text,
			o->header,
			o->kind == TG_OWNED_BEGIN_NESTED ?
				"releases the savepoint on exit" :
				"commits on exit",
			what);
	if (site->guard) {
		off = switch_off(site->guard);
		f->help = tg_xasprintf(
			"pass `%s`: %s owns the transaction and commits it; %s should not %s a session it is given",
			off, o->kind == TG_OWNED_REQUEST ? "the dependency" :
							   "the block",
			first, commit ? "commit" : "roll back");
		free(off);
	} else {
		f->help = tg_xasprintf(
			"let %s only add and flush (the %s commits); if it must also work alone, give it a `commit: bool = True` parameter and pass `commit=False` here",
			first, o->kind == TG_OWNED_REQUEST ? "dependency" :
							     "block");
	}
	free(what);
}

/*
 * A call passing an owned session to a function that commits or rolls
 * it back (TG_DEF_COMMITS, followed through the functions it passes it
 * to): reported at the call, once.
 */
static void committing_callee(struct tg_actx *cx, TSNode call)
{
	struct tg_commit_site site;
	const struct tg_owned *o;

	if (!tg_analyze_wants(cx, "TX001") ||
	    !tg_callee_passes(cx, call, false, &o, &site))
		return;
	report_callee(cx, call, o, &site);
	tg_commit_site_release(&site);
}

static void tx001_enter(struct tg_actx *cx, TSNode node, unsigned kind)
{
	TSNode fn, attr, obj;
	const char *a;
	size_t len;
	bool commit;
	char *name;
	const struct tg_owned *o;
	struct tg_finding *f;
	bool inferred;

	if (kind != TG_PK_CALL || !cx->nstack)
		return;
	fn = tg_node_child(node, TG_F_FUNCTION);
	if (!tg_node_is(fn, TG_PK_ATTRIBUTE)) {
		committing_callee(cx, node);
		return;
	}
	attr = tg_node_child(fn, TG_F_ATTRIBUTE);
	obj = tg_node_child(fn, TG_F_OBJECT);
	if (ts_node_is_null(attr) || ts_node_is_null(obj))
		return;
	a = tg_node_text(cx->py, attr, &len);
	if (len == 6 && !memcmp(a, "commit", 6))
		commit = true;
	else if (len == 8 && !memcmp(a, "rollback", 8))
		commit = false;
	else {
		committing_callee(cx, node);
		return;
	}
	name = tg_analyze_norm(cx, obj);
	o = tg_analyze_owned(cx, name, ts_node_start_byte(node));
	free(name);
	if (!o || !(f = tg_analyze_emit(cx, "TX001", node)))
		return;
	f->owner_text = tg_xstrdup(o->owner_text);
	f->owner = tg_xstrdup(o->owner_desc);
	f->fix_owner = fix_owner_of(o);
	f->fix_body_start = o->body_start;
	/* Name an inferred owner and where it is defined */
	inferred = o->kind == TG_OWNED_REGISTERED && o->owner &&
		   o->owner->origin == TG_OWNER_INFERRED;
	if (o->kind == TG_OWNED_REQUEST)
		f->message = tg_xasprintf(
			"%s on the request-scoped `%s` (`%s`), whose dependency already %s (%s)",
			f->call_text, o->name, o->header,
			commit ? "commits when the request ends" :
				 "rolls back when an exception leaves the endpoint",
			o->owner_desc);
	else if (injected(o))
		f->message = tg_xasprintf(
			"%s in a function decorated `%s`, whose session already %s (%s)",
			f->call_text, o->header,
			commit ? "commits when the function returns" :
				 "rolls back when an exception leaves the function",
			o->owner_desc);
	else if (commit)
		f->message = tg_xasprintf(
			"%s inside `%s`, which already %s on exit%s%s%s",
			f->call_text, o->header,
			o->kind == TG_OWNED_BEGIN_NESTED ?
				"releases the savepoint" :
				"commits",
			inferred ? " (" : "", inferred ? o->owner_desc : "",
			inferred ? ")" : "");
	else
		f->message = tg_xasprintf(
			"%s inside `%s`, which already rolls back when an exception leaves it%s%s%s",
			f->call_text, o->header, inferred ? " (" : "",
			inferred ? o->owner_desc : "", inferred ? ")" : "");
	f->help = help_for(cx, o, commit);
	if (commit && o->kind != TG_OWNED_BEGIN_NESTED && followed(node)) {
		char *h = f->help;

		f->help = tg_xasprintf(
			"%s; statements follow it: without it (`txguard fix --unsafe` removes it) they join its transaction, which commits when the block exits, and a failure among them rolls back the work before it too; if others must see an intermediate status now, write it in a separate short-lived session",
			h);
		free(h);
	}
	if (!commit && raised_after(cx, node)) {
		free(f->help);
		f->help = tg_xstrdup(
			"remove the rollback line only: the `raise` after it leaves the block, which rolls back");
	}
}

const struct tg_rule_ops tg_rule_tx001_ops = {
	"TX001",
	tx001_enter,
	NULL,
	false,
	TG_RULE_KIND(TG_PK_CALL),
};
