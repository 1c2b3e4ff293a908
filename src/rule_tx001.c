#include "txguard/common.h"
#include "txguard/analyze_rule.h"
#include "txguard/finding.h"
#include "txguard/owners.h"

/*
 * TX001 double-transaction (§5): commit() or rollback() on a name an
 * enclosing owner block provides. The owner-scope stack (analyze.c) has
 * already applied barriers and rebindings; this file decides what a
 * violating call is and how to explain it.
 */

static char *help_for(const struct tg_owned *o, bool commit)
{
	if (!commit)
		return tg_xstrdup(
			"raise instead of rolling back: an exception leaving the block rolls back");
	if (o->kind != TG_OWNED_REGISTERED)
		return tg_xasprintf(
			"remove this call: `%s` %s when the block exits; if you need manual control, drop the %s block and commit explicitly",
			o->owner_text,
			o->kind == TG_OWNED_BEGIN ? "commits" :
						    "releases the savepoint",
			o->owner_text);
	return tg_xasprintf(
		"remove this call: the block commits when it exits; if you need manual control use a manager that only closes, e.g. `%s as %s:`",
		o->is_async ? "async with async_session_factory()" :
			      "with Session(engine)",
		o->name);
}

static void tx001_enter(struct tg_actx *cx, TSNode node, const char *type)
{
	TSNode fn, attr, obj;
	const char *a;
	size_t len;
	bool commit;
	char *name;
	const struct tg_owned *o;
	struct tg_finding *f;

	if (strcmp(type, "call") || !cx->nstack)
		return;
	fn = ts_node_child_by_field_name(node, "function", 8);
	if (ts_node_is_null(fn) || strcmp(ts_node_type(fn), "attribute"))
		return;
	attr = ts_node_child_by_field_name(fn, "attribute", 9);
	obj = ts_node_child_by_field_name(fn, "object", 6);
	if (ts_node_is_null(attr) || ts_node_is_null(obj))
		return;
	a = tg_analyze_text(cx, attr, &len);
	if (len == 6 && !memcmp(a, "commit", 6))
		commit = true;
	else if (len == 8 && !memcmp(a, "rollback", 8))
		commit = false;
	else
		return;
	name = tg_analyze_norm(cx, obj);
	o = tg_analyze_owned(cx, name, ts_node_start_byte(node));
	free(name);
	if (!o || !(f = tg_analyze_emit(cx, "TX001", node)))
		return;
	f->owner_text = tg_xstrdup(o->owner_text);
	f->owner = tg_xstrdup(o->owner_desc);
	if (commit)
		f->message = tg_xasprintf(
			"%s inside `%s`, which already %s on exit",
			f->call_text, o->header,
			o->kind == TG_OWNED_BEGIN_NESTED ?
				"releases the savepoint" :
				"commits");
	else
		f->message = tg_xasprintf(
			"%s inside `%s`, which already rolls back when an exception leaves it",
			f->call_text, o->header);
	f->help = help_for(o, commit);
}

const struct tg_rule_ops tg_rule_tx001_ops = {
	"TX001",
	tx001_enter,
	NULL,
	false,
};
