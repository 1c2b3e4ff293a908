#include "txguard/common.h"
#include "txguard/argsel.h"
#include "txguard/analyze.h"
#include "txguard/analyze_rule.h"
#include "txguard/callee.h"
#include "txguard/finding.h"
#include "txguard/node.h"
#include "txguard/owner_table.h"
#include "txguard/pyparse.h"

#include <ctype.h>
#include <strings.h>

/*
 * TX003 transaction-per-iteration: inside a loop body, opening an
 * owner block (X.begin(), a configured or inferred owner), opening a new
 * session (a factory call), or calling commit(). The walk keeps the loop
 * entries (analyze.c: barriers end them, and loops where a transaction
 * per iteration is the design are not pushed); one finding per call.
 *
 * begin_nested() is left alone: a savepoint per row is how a batch
 * skips the rows that fail, and it commits nothing. So are commits on
 * objects not known to be a session or a connection, commits every N
 * rows and commits the loop leaves right after (below).
 */

/*
 * `owner` (an owner's description, or a factory's when `factory`: a
 * factory owns nothing, so it is named in the message only) and `help`
 * are taken over.
 */
static void report(struct tg_actx *cx, TSNode call, const struct tg_owned *loop,
		   const char *what, char *owner, bool factory, char *help)
{
	struct tg_finding *f = tg_analyze_emit(cx, "TX003", call);

	if (!f) {
		free(owner);
		free(help);
		return;
	}
	f->owner_text = tg_xstrdup(f->call_text);
	f->message = tg_xasprintf("%s %s on every iteration of the loop at line %u%s%s%s",
				  f->call_text, what, loop->line,
				  owner ? " (" : "", owner ? owner : "",
				  owner ? ")" : "");
	if (factory)
		free(owner);
	else
		f->owner = owner;
	f->help = help;
}

/*
 * The with statement whose item `call` is (`with F() as s:`), or null;
 * *alias gets the bound name when there is one.
 */
static TSNode with_of_item(TSNode call, TSNode *alias)
{
	TSNode p = ts_node_parent(call);

	*alias = (TSNode){ 0 };
	while (tg_node_is(p, TG_PK_PARENTHESIZED))
		p = ts_node_parent(p);
	if (tg_node_is(p, TG_PK_AS_PATTERN)) {
		TSNode t = tg_node_child(p, TG_F_ALIAS);

		if (!ts_node_is_null(t) && ts_node_named_child_count(t) == 1)
			*alias = ts_node_named_child(t, 0);
		p = ts_node_parent(p);
	}
	if (!tg_node_is(p, TG_PK_WITH_ITEM))
		return (TSNode){ 0 };
	p = ts_node_parent(ts_node_parent(p));
	return tg_node_is(p, TG_PK_WITH) ? p : (TSNode){ 0 };
}

/* Does an item of `with` open `name.begin()` (the block commits on exit)? */
static bool with_begins(const struct tg_actx *cx, TSNode with, TSNode name)
{
	TSNode clause = { 0 };
	uint32_t n = ts_node_named_child_count(with);
	size_t len, nlen;
	const char *want = tg_node_text(cx->py, name, &nlen);

	for (uint32_t i = 0; i < n && ts_node_is_null(clause); i++)
		if (tg_node_is(ts_node_named_child(with, i), TG_PK_WITH_CLAUSE))
			clause = ts_node_named_child(with, i);
	n = ts_node_named_child_count(clause);
	for (uint32_t i = 0; i < n; i++) {
		TSNode v = tg_node_child(ts_node_named_child(clause, i),
					 TG_F_VALUE), fn, obj, attr;
		const char *s;

		if (tg_node_is(v, TG_PK_AS_PATTERN))
			v = ts_node_named_child(v, 0);
		v = tg_node_unparen(v);
		fn = tg_node_unparen(tg_node_child(v, TG_F_FUNCTION));
		if (!tg_node_is(v, TG_PK_CALL) || !tg_node_is(fn, TG_PK_ATTRIBUTE))
			continue;
		obj = tg_node_child(fn, TG_F_OBJECT);
		attr = tg_node_child(fn, TG_F_ATTRIBUTE);
		s = tg_node_text(cx->py, attr, &len);
		if (!tg_node_text_is(s, len, "begin") || ts_node_is_null(obj))
			continue;
		s = tg_node_text(cx->py, obj, &len);
		if (len == nlen && !memcmp(s, want, len))
			return true;
	}
	return false;
}

/*
 * Is the session a factory call makes an async one: the call is entered
 * with `async with`, or the factory is AsyncSession or an
 * async_sessionmaker?
 */
static bool factory_async(const struct tg_actx *cx, TSNode call, TSNode with,
			  const struct tg_owner *o)
{
	TSNode fn = tg_node_unparen(tg_node_child(call, TG_F_FUNCTION));
	size_t len, n;
	const char *s;

	if (!ts_node_is_null(with))
		return tg_node_is_async(with);
	if (o && o->how && strstr(o->how, "async"))
		return true;
	if (tg_node_is(fn, TG_PK_CALL))
		return tg_node_callee_is(cx->py, fn, "async_sessionmaker");
	s = tg_node_text(cx->py, fn, &len);
	s = tg_node_last_part(s, len, &n);
	return tg_node_text_is(s, n, "AsyncSession");
}

/*
 * The fix for a session opened in a loop. Where the block the factory's
 * session is opened in commits on exit (`with F() as s, s.begin():`),
 * that block moves around the loop as it is and an explicit commit
 * would be a double transaction; otherwise the session moves out and
 * commits once after the loop.
 */
static char *factory_help(const struct tg_actx *cx, TSNode call,
			  const struct tg_owned *loop, const struct tg_owner *o)
{
	TSNode alias, with = with_of_item(call, &alias);
	const char *loop_kw = loop->header ? loop->header : "loop";
	bool is_async = factory_async(cx, call, with, o);
	char *disp, *help;

	if (!ts_node_is_null(with) && !ts_node_is_null(alias) &&
	    with_begins(cx, with, alias)) {
		TSNode clause = ts_node_named_child(with, 0);
		uint32_t i = 0;

		while (!tg_node_is(clause, TG_PK_WITH_CLAUSE) &&
		       ++i < ts_node_named_child_count(with))
			clause = ts_node_named_child(with, i);
		disp = tg_analyze_display(cx, clause);
		help = tg_xasprintf(
			"open the block once, around the loop (`%s %s:` before the `%s`): it commits once when it exits, so add no commit inside",
			is_async ? "async with" : "with", disp, loop_kw);
		free(disp);
		return help;
	}
	disp = tg_analyze_display(cx, call);
	help = tg_xasprintf(
		"create the session once, before the loop (`%s %s as session:` around the `%s`), and commit once after the loop, inside that block",
		is_async ? "async with" : "with", disp, loop_kw);
	free(disp);
	return help;
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

/*
 * Receivers of commit(): only a session or a connection commits a
 * database transaction. A name is known to be one when a scope entry
 * binds it (a factory's session, an owner or closing block, a
 * request-scoped parameter), when it is a parameter of the enclosing
 * function given by Depends() or annotated with SQLAlchemy's Session,
 * AsyncSession, Connection or AsyncConnection, or when its last part
 * says so (tg_session_name()). Anything else with a commit() (a
 * logging batch, a Kafka consumer) is not one.
 */
static bool session_type_word(const char *w, size_t n)
{
	return tg_node_text_is(w, n, "Session") ||
	       tg_node_text_is(w, n, "AsyncSession") ||
	       tg_node_text_is(w, n, "Connection") ||
	       tg_node_text_is(w, n, "AsyncConnection");
}

/* Does an annotation name one (`Session`, `orm.Session | None`, "AsyncSession")? */
static bool annotation_is_session(const struct tg_actx *cx, TSNode ann)
{
	size_t len, i = 0;
	const char *s = tg_node_text(cx->py, ann, &len);

	while (i < len) {
		size_t j = i;

		while (j < len && (isalnum((unsigned char)s[j]) || s[j] == '_'))
			j++;
		if (j > i && session_type_word(s + i, j - i))
			return true;
		i = j + 1;
	}
	return false;
}

/*
 * Is `name` a parameter of the function around `at` that is a session:
 * annotated as one, or given by FastAPI (`= Depends(get_db)`,
 * `Annotated[..., Depends(get_db)]`)?
 */
static bool session_param(const struct tg_actx *cx, TSNode at,
			  const char *name)
{
	TSNode fn = at, params;
	uint32_t n;

	while (!ts_node_is_null(fn) && !tg_node_is(fn, TG_PK_FUNCTION))
		fn = ts_node_parent(fn);
	if (ts_node_is_null(fn))
		return false;
	params = tg_node_child(fn, TG_F_PARAMETERS);
	n = ts_node_named_child_count(params);
	for (uint32_t i = 0; i < n; i++) {
		TSNode p = ts_node_named_child(params, i), id, type, value;
		size_t len;
		const char *s;

		if (tg_node_is(p, TG_PK_TYPED_PARAM))
			id = ts_node_named_child(p, 0);
		else if (tg_node_is(p, TG_PK_TYPED_DEFAULT) ||
			 tg_node_is(p, TG_PK_DEFAULT_PARAM))
			id = tg_node_child(p, TG_F_NAME);
		else
			continue;
		if (ts_node_is_null(id))
			continue;
		s = tg_node_text(cx->py, id, &len);
		if (!tg_node_text_is(s, len, name))
			continue;
		type = tg_node_child(p, TG_F_TYPE);
		value = tg_node_unparen(tg_node_child(p, TG_F_VALUE));
		if (tg_node_callee_is(cx->py, value, "Depends"))
			return true;
		if (ts_node_is_null(type))
			return false;
		s = tg_node_text(cx->py, type, &len);
		return annotation_is_session(cx, type) ||
		       memmem(s, len, "Depends(", 8);
	}
	return false;
}

/*
 * A commit that runs once every N rows: a condition between the loop
 * body and the call that takes a remainder (`if i % 500 == 0:`).
 */
static bool batched(const struct tg_actx *cx, TSNode call, uint32_t body_start)
{
	for (TSNode n = ts_node_parent(call);
	     !ts_node_is_null(n) && ts_node_start_byte(n) >= body_start;
	     n = ts_node_parent(n)) {
		TSNode cond = tg_node_child(n, TG_F_CONDITION);
		size_t len;
		const char *s;

		if (ts_node_is_null(cond) ||
		    ts_node_end_byte(cond) > ts_node_start_byte(call))
			continue;
		s = tg_node_text(cx->py, cond, &len);
		if (memchr(s, '%', len) && !memchr(s, '"', len) &&
		    !memchr(s, '\'', len))
			return true;
	}
	return false;
}

/* The next statement after `stmt`, comments aside; null at a block's end. */
static TSNode next_statement(TSNode stmt)
{
	TSNode n = ts_node_next_named_sibling(stmt);

	while (!ts_node_is_null(n) && tg_node_is(n, TG_PK_COMMENT))
		n = ts_node_next_named_sibling(n);
	return n;
}

/* The statement of an expression statement's call (awaited or not), or null. */
static TSNode call_statement(TSNode call)
{
	TSNode stmt = ts_node_parent(call);

	if (tg_node_is(stmt, TG_PK_AWAIT))
		stmt = ts_node_parent(stmt);
	return tg_node_is(stmt, TG_PK_EXPR_STMT) ? stmt : (TSNode){ 0 };
}

/*
 * A loop left right after the commit (`session.commit()`, or a block that
 * commits on exit, then `break` or `return`): it commits once, a retry
 * loop. The statement run next is looked for after `stmt` (the call's
 * statement, or the with statement) and, at the end of a block of a
 * try, with or if, after that compound statement, up to the loop body.
 */
static bool leaves_after(const struct tg_actx *cx, TSNode stmt,
			 uint32_t body_start)
{
	if (ts_node_is_null(stmt))
		return false;
	while (ts_node_start_byte(stmt) >= body_start) {
		TSNode next = next_statement(stmt), block, parent;
		size_t len;
		const char *s;

		if (!ts_node_is_null(next)) {
			if (tg_node_is(next, TG_PK_RETURN))
				return true;
			s = tg_node_text(cx->py, next, &len);
			return tg_node_text_is(s, len, "break");
		}
		block = ts_node_parent(stmt);
		if (ts_node_is_null(block) ||
		    ts_node_start_byte(block) <= body_start)
			return false;
		parent = ts_node_parent(block);
		if (ts_node_is_null(parent))
			return false;
		/* a try's clause or an if's else: climb to the statement */
		if (!tg_node_is(parent, TG_PK_TRY) &&
		    !tg_node_is(parent, TG_PK_IF) &&
		    !tg_node_is(parent, TG_PK_WITH)) {
			parent = ts_node_parent(parent);
			if (!tg_node_is(parent, TG_PK_TRY) &&
			    !tg_node_is(parent, TG_PK_IF))
				return false;
		}
		stmt = parent;
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
		if (!loop || leaves_after(cx, with, loop->body_start))
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
		       false, tg_xasprintf(
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
	char *name;

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
		TSNode alias, with = with_of_item(node, &alias);

		if (!(loop = tg_analyze_loop(cx, ts_node_start_byte(node))) ||
		    leaves_after(cx, with, loop->body_start))
			return;
		report(cx, node, loop, "opens a new session",
		       tg_callee_factory_desc(cx, node, o), true,
		       factory_help(cx, node, loop, o));
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
	if ((!e && !tg_session_name(name, strlen(name)) &&
	     !session_param(cx, node, name)) ||
	    batched(cx, node, loop->body_start) ||
	    leaves_after(cx, call_statement(node), loop->body_start)) {
		free(name);
		return;
	}
	report(cx, node, loop, "commits", NULL, false,
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
