#include "txguard/common.h"
#include "txguard/argsel.h"
#include "txguard/analyze.h"
#include "txguard/analyze_rule.h"
#include "txguard/buf.h"
#include "txguard/callee.h"
#include "txguard/hash.h"
#include "txguard/infer.h"
#include "txguard/node.h"
#include "txguard/owner_table.h"
#include "txguard/pyparse.h"
#include "txguard/resolver.h"
#include "txguard/units.h"

/* Is the module `fqn` SQLAlchemy (or SQLModel, whose Session is one)? */
static bool sqlalchemy_module(const char *fqn)
{
	static const char *const mods[] = { "sqlalchemy", "sqlmodel" };

	for (size_t i = 0; i < TG_ARRAY_SIZE(mods); i++) {
		size_t n = strlen(mods[i]);

		if (!strncmp(fqn, mods[i], n) && (fqn[n] == '.' || !fqn[n]))
			return true;
	}
	return false;
}

/*
 * Precision: `Session(...)` / `AsyncSession(...)` create a session
 * when the name is SQLAlchemy's. The same name imported from elsewhere
 * (requests.Session, an ORM model called Session) or defined in the
 * file is something else; an unbound dotted name (`client.Session`) is
 * an attribute of some object. A bare name bound nowhere (a star
 * import), or any name when there is no import information, is taken
 * as SQLAlchemy's.
 */
static bool sqlalchemy_session_class(const struct tg_actx *cx,
				     const char *callee, size_t len)
{
	size_t n, first = 0;
	const char *l = tg_node_last_part(callee, len, &n);
	const struct tg_inferred *inf = NULL;

	if (!tg_node_text_is(l, n, "Session") &&
	    !tg_node_text_is(l, n, "AsyncSession"))
		return false;
	/* a function's own import, already qualified (local_callee) */
	if (len > 2 && callee[0] == ':' && callee[1] == ':')
		return sqlalchemy_module(callee + 2);
	while (first < len && callee[first] != '.')
		first++;
	if (cx->opts && cx->opts->resolver)
		inf = tg_resolver_file(cx->opts->resolver, cx->py->path);
	if (!inf)
		return true;
	for (size_t i = 0; i < inf->nimports; i++) {
		const char *loc = inf->imports[i].local;

		if (strlen(loc) == first && !memcmp(loc, callee, first))
			return sqlalchemy_module(inf->imports[i].fqn);
	}
	for (size_t i = 0; i < inf->nlocals; i++) {
		const char *loc = inf->locals[i];

		if (strlen(loc) == first && !memcmp(loc, callee, first))
			return false;
	}
	return first == len;
}

/* scoped_session(...) registries return the thread's one session */
static bool scoped_factory(const struct tg_owner *o)
{
	return o->how && strstr(o->how, "scoped_session");
}

static struct tg_classified *memo_slot(struct tg_classify_memo *m,
				       const char *callee)
{
	size_t i = (size_t)tg_hash(callee, strlen(callee)) & (m->alloc - 1);

	while (m->v[i].callee && strcmp(m->v[i].callee, callee))
		i = (i + 1) & (m->alloc - 1);
	return &m->v[i];
}

/* Takes `callee` over; replaces an entry for it. */
static void memo_add(struct tg_classify_memo *m, char *callee,
		     enum tg_call_class cls, const struct tg_owner *owner,
		     bool known)
{
	struct tg_classified *e = m->alloc ? memo_slot(m, callee) : NULL;

	if (e && e->callee) {
		free(e->callee);
	} else {
		if (2 * (m->nr + 1) > m->alloc) {
			struct tg_classify_memo big = { 0 };

			big.alloc = m->alloc ? 2 * m->alloc : 64;
			big.v = tg_xcalloc(big.alloc, sizeof(*big.v));
			for (size_t i = 0; i < m->alloc; i++)
				if (m->v[i].callee)
					*memo_slot(&big, m->v[i].callee) =
						m->v[i];
			big.nr = m->nr;
			free(m->v);
			*m = big;
		}
		e = memo_slot(m, callee);
		m->nr++;
	}
	e->callee = callee;
	e->cls = cls;
	e->owner = owner;
	e->known = known;
}

static void memo_put(const struct tg_actx *cx, char *callee,
		     enum tg_call_class cls, const struct tg_owner *owner,
		     bool known)
{
	if (cx->memo)
		memo_add(cx->memo, callee, cls, owner, known);
	else
		free(callee);
}

void tg_callee_memo_release(struct tg_classify_memo *m)
{
	for (size_t i = 0; i < m->alloc; i++)
		free(m->v[i].callee);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

/*
 * `callee`, or "f.<locals>.callee" when the function being analysed
 * defines a context manager of that name itself: the local definition
 * shadows any other. Takes `callee`; returns a string to free.
 */
static char *local_helper(const struct tg_actx *cx, char *callee)
{
	struct tg_resolver *res = cx->opts ? cx->opts->resolver : NULL;
	struct tg_resolution found;
	const char *unit;
	char *local;

	if (!res || !cx->units || cx->unit >= cx->units->nr ||
	    strchr(callee, '.'))
		return callee;
	unit = cx->units->v[cx->unit].qualname;
	if (!unit || !strcmp(unit, "<module>"))
		return callee;
	local = tg_xasprintf("%s.<locals>.%s", unit, callee);
	if (tg_resolver_lookup(&found, res, cx->py->path, local,
			       strlen(local)) == 0 &&
	    found.def) {
		free(callee);
		return local;
	}
	free(local);
	return callee;
}

/* An owner's call: configured, or resolved through the file's imports. */
static const struct tg_owner *callee_owner(const struct tg_actx *cx,
					   const char *callee, size_t len)
{
	const struct tg_owner_table *reg = cx->opts ? cx->opts->owners : NULL;
	struct tg_resolver *res = cx->opts ? cx->opts->resolver : NULL;
	const struct tg_owner *o = tg_owner_table_match_owner(reg, callee, len);

	if (!o && res)
		o = tg_resolver_owner(res, cx->py->path, callee, len);
	return o;
}

/*
 * Would `callee` create a session, were it not an owner (an owner wins)?
 * *owner gets the factory's entry, NULL for SQLAlchemy's own classes.
 */
static bool callee_factory(const struct tg_actx *cx, const char *callee,
			   size_t len, const struct tg_owner **owner)
{
	const struct tg_owner_table *reg = cx->opts ? cx->opts->owners : NULL;
	struct tg_resolver *res = cx->opts ? cx->opts->resolver : NULL;
	const struct tg_owner *o;

	*owner = NULL;
	if ((o = tg_owner_table_match_factory(reg, callee, len))) {
		*owner = o;
		return true;
	}
	if (res && (o = tg_resolver_factory(res, cx->py->path, callee, len))) {
		if (scoped_factory(o))
			return false;
		*owner = o;
		return true;
	}
	return sqlalchemy_session_class(cx, callee, len);
}

/*
 * The class of a name or dotted name called, remembered per file. With
 * `factory_only` only whether it is TG_CALL_FACTORY matters (anything
 * else may come back as TG_CALL_NONE): the factory question is asked
 * first, so most callees cost one resolver query instead of two.
 */
static enum tg_call_class classify_callee(const struct tg_actx *cx,
					  char *callee, bool factory_only,
					  const struct tg_owner **owner)
{
	struct tg_classified *e = NULL;
	enum tg_call_class cls = TG_CALL_NONE;
	const struct tg_owner *o, *fo = NULL;
	size_t len = strlen(callee);

	*owner = NULL;
	if (cx->memo && cx->memo->alloc) {
		e = memo_slot(cx->memo, callee);
		if (e->callee && (e->known || factory_only)) {
			free(callee);
			if (factory_only && e->cls != TG_CALL_FACTORY)
				return TG_CALL_NONE;
			*owner = e->owner;
			return e->cls;
		}
	}
	if (factory_only && !callee_factory(cx, callee, len, &fo)) {
		/* an owner or nothing: not known which */
		memo_put(cx, callee, TG_CALL_NONE, NULL, false);
		return TG_CALL_NONE;
	}
	if ((o = callee_owner(cx, callee, len))) {
		cls = TG_CALL_OWNER;
	} else if (factory_only || callee_factory(cx, callee, len, &fo)) {
		cls = TG_CALL_FACTORY;
		o = fo;
	}
	memo_put(cx, callee, cls, o, true);
	if (factory_only && cls != TG_CALL_FACTORY)
		return TG_CALL_NONE;
	*owner = o;
	return cls;
}

/*
 * A callee whose first part a function's own import binds (`from aioboto3
 * import Session` in the function calling `Session()`) means what that
 * import names, not what the module's names would: it becomes "::" and
 * the fully qualified name ("::aioboto3.Session",
 * "::app.db.get_session"), which the resolver looks up as such and the
 * per-file memo keeps apart from the module's meaning. A relative
 * import is made absolute from the file's module. Takes `callee` over.
 */
static char *local_callee(const struct tg_actx *cx, char *callee)
{
	size_t len = strlen(callee), first = 0, dots = 0;
	const struct tg_local_import *im;
	const struct tg_owner_table *reg = cx->opts ? cx->opts->owners : NULL;
	const struct tg_inferred *inf = NULL;
	const char *t, *path = cx->py->path;
	struct tg_buf b = TG_BUF_INIT;

	while (first < len && callee[first] != '.')
		first++;
	im = tg_units_local_import(cx->units, cx->unit, callee, first);
	/* configured names match the text called, wherever it comes from */
	if (!im || tg_owner_table_match_owner(reg, callee, len) ||
	    tg_owner_table_match_factory(reg, callee, len))
		return callee;
	t = im->target;
	while (t[dots] == '.')
		dots++;
	if (dots && cx->opts && cx->opts->resolver)
		inf = tg_resolver_file(cx->opts->resolver, path);
	tg_buf_addstr(&b, "::");
	if (dots && inf && inf->module) {
		size_t plen = strlen(path), mlen = strlen(inf->module);
		bool pkg = plen >= 11 &&
			   !strcmp(path + plen - 11, "__init__.py");

		/* the package the file is in, then one up per extra dot */
		for (size_t up = pkg ? dots - 1 : dots; up && mlen; up--)
			while (mlen && inf->module[--mlen] != '.')
				;
		tg_buf_add(&b, inf->module, mlen);
		if (mlen && t[dots])
			tg_buf_addch(&b, '.');
		tg_buf_addstr(&b, t + dots);
	} else {
		tg_buf_addstr(&b, t);
	}
	tg_buf_addstr(&b, callee + first);
	free(callee);
	return tg_buf_detach(&b, NULL);
}

static enum tg_call_class classify(const struct tg_actx *cx, TSNode call,
				   bool factory_only,
				   const struct tg_owner **owner)
{
	TSNode fn;
	unsigned kind;
	size_t len;

	*owner = NULL;
	fn = tg_node_unparen(tg_node_child(call, TG_F_FUNCTION));
	if (ts_node_is_null(fn))
		return TG_CALL_NONE;
	kind = tg_node_kind(fn);
	if (kind == TG_PK_ATTRIBUTE) {
		TSNode attr = tg_node_child(fn, TG_F_ATTRIBUTE);
		const char *a = "";

		len = 0;
		if (!ts_node_is_null(attr))
			a = tg_node_text(cx->py, attr, &len);
		if (tg_node_text_is(a, len, "begin"))
			return TG_CALL_BEGIN;
		if (tg_node_text_is(a, len, "begin_nested"))
			return TG_CALL_BEGIN_NESTED;
	} else if (kind == TG_PK_CALL) {
		/* sessionmaker(bind=engine)(): a factory made and called at once */
		return tg_node_callee_is(cx->py, fn, "sessionmaker") ||
				       tg_node_callee_is(cx->py, fn,
						      "async_sessionmaker") ?
			       TG_CALL_FACTORY :
			       TG_CALL_NONE;
	} else if (kind != TG_PK_IDENTIFIER) {
		return TG_CALL_NONE;
	}
	/* a helper defined in the function, then a name it imports */
	return classify_callee(
		cx, local_callee(cx, local_helper(cx, tg_analyze_norm(cx, fn))),
		factory_only, owner);
}

enum tg_call_class tg_callee_classify(const struct tg_actx *cx, TSNode call,
				       const struct tg_owner **owner)
{
	enum tg_call_class cls = classify(cx, call, false, owner);

	/* an owner only for some arguments: this call's decide */
	if (cls == TG_CALL_OWNER && *owner && (*owner)->guard &&
	    !tg_argsel_selects(cx->py, call, (*owner)->guard)) {
		*owner = NULL;
		return TG_CALL_NONE;
	}
	return cls;
}

bool tg_callee_passes(const struct tg_actx *cx, TSNode call, bool escape,
		      const struct tg_owned **o, struct tg_commit_site *out)
{
	TSNode args = tg_node_child(call, TG_F_ARGUMENTS);
	uint32_t at = ts_node_start_byte(call), i = 0;
	struct tg_arg a = { 0 };

	while (tg_node_next_arg(args, &i, &a)) {
		const char *kt = NULL;
		size_t klen = 0;
		char *name;

		if (!ts_node_is_null(a.keyword))
			kt = tg_node_text(cx->py, a.keyword, &klen);
		if ((!tg_node_is(a.value, TG_PK_IDENTIFIER) &&
		     !tg_node_is(a.value, TG_PK_ATTRIBUTE)) ||
		    (!kt && a.after_splat))
			continue;
		name = tg_analyze_norm(cx, a.value);
		*o = escape ? tg_analyze_scope_of(cx, name, at) :
			      tg_analyze_owned(cx, name, at);
		free(name);
		if (!*o || (*o)->kind == TG_OWNED_CREATED)
			continue;
		if (tg_callee_commits(cx, call, a.pos, kt, klen, escape, out))
			return true;
	}
	return false;
}

bool tg_callee_commits(const struct tg_actx *cx, TSNode call, long pos,
		       const char *kw, size_t kwlen, bool escape,
		       struct tg_commit_site *out)
{
	struct tg_resolver *res = cx->opts ? cx->opts->resolver : NULL;
	TSNode fn = tg_node_unparen(tg_node_child(call, TG_F_FUNCTION));
	char *callee;
	bool found;

	memset(out, 0, sizeof(*out));
	for (TSNode o = fn; tg_node_is(o, TG_PK_ATTRIBUTE);)
		if (!tg_node_is(o = tg_node_child(o, TG_F_OBJECT),
				TG_PK_ATTRIBUTE) &&
		    !tg_node_is(o, TG_PK_IDENTIFIER))
			return false; /* a call's or subscript's attribute */
	if (!res || (!tg_node_is(fn, TG_PK_IDENTIFIER) &&
		     !tg_node_is(fn, TG_PK_ATTRIBUTE)))
		return false;
	callee = local_callee(cx, tg_analyze_norm(cx, fn));
	found = tg_resolver_commits(out, res, cx->py->path, callee,
				    strlen(callee), pos, kw, kwlen, escape);
	free(callee);
	if (found && !tg_argsel_selects(cx->py, call, out->guard)) {
		tg_commit_site_release(out);
		return false;
	}
	return found;
}

bool tg_callee_is_factory(const struct tg_actx *cx, TSNode call,
			const struct tg_owner **owner)
{
	return classify(cx, call, true, owner) == TG_CALL_FACTORY;
}

char *tg_callee_factory_desc(const struct tg_actx *cx, TSNode call,
			      const struct tg_owner *owner)
{
	TSNode fn = tg_node_unparen(tg_node_child(call, TG_F_FUNCTION));
	char *callee, *desc;
	const char *l;
	size_t n;

	if (owner && owner->origin == TG_OWNER_INFERRED)
		return tg_xasprintf("%s, defined at %s (%s)", owner->name,
				    owner->where ? owner->where : "?",
				    owner->how ? owner->how : "sessionmaker");
	if (owner)
		return tg_xasprintf("%s (factory configured in %s)",
				    owner->name,
				    owner->where ? owner->where : ".txguard");
	if (ts_node_is_null(fn) || tg_node_is(fn, TG_PK_CALL))
		return tg_xstrdup("a sessionmaker called in place");
	callee = tg_analyze_norm(cx, fn);
	l = tg_node_last_part(callee, strlen(callee), &n);
	desc = tg_xasprintf("SQLAlchemy's %s", l);
	free(callee);
	return desc;
}

/* "get_db, defined at app/db.py:12, commits after yield" */
char *tg_callee_owner_desc(const struct tg_owner *owner)
{
	if (owner->origin == TG_OWNER_INFERRED)
		return tg_xasprintf("%s, defined at %s, %s", owner->name,
				    owner->where ? owner->where : "?",
				    owner->how ? owner->how : "commits on exit");
	return tg_xasprintf("%s (owner configured in %s)", owner->name,
			    owner->where ? owner->where : ".txguard");
}
