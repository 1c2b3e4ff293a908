#include "txguard/common.h"
#include "txguard/owner_table.h"

static void add(struct tg_owner **v, size_t *nr, size_t *alloc,
		const char *name, enum tg_owner_origin origin,
		const char *where, const char *how)
{
	struct tg_owner *o;

	TG_ALLOC_GROW(*v, *nr + 1, *alloc);
	o = &(*v)[(*nr)++];
	o->name = tg_xstrdup(name);
	o->origin = origin;
	o->where = where ? tg_xstrdup(where) : NULL;
	o->how = how ? tg_xstrdup(how) : NULL;
	o->guard = NULL;
}

void tg_owner_table_add_owner(struct tg_owner_table *o, const char *name,
			 enum tg_owner_origin origin, const char *where,
			 const char *how)
{
	add(&o->owners, &o->nowners, &o->alloc_owners, name, origin, where,
	    how);
}

void tg_owner_table_add_factory(struct tg_owner_table *o, const char *name,
			   enum tg_owner_origin origin, const char *where)
{
	add(&o->factories, &o->nfactories, &o->alloc_factories, name, origin,
	    where, NULL);
}

static void release_list(struct tg_owner *v, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		free(v[i].name);
		free(v[i].where);
		free(v[i].how);
		free(v[i].guard);
	}
	free(v);
}

void tg_owner_table_release(struct tg_owner_table *o)
{
	if (!o)
		return;
	release_list(o->owners, o->nowners);
	release_list(o->factories, o->nfactories);
	memset(o, 0, sizeof(*o));
}

/*
 * A dotted entry matches only that exact spelling; an undotted one
 * matches any callee whose last dotted part is that name.
 */
static bool name_matches(const char *name, const char *callee, size_t len)
{
	size_t n = strlen(name);
	const char *last;

	if (!n || !len)
		return false;
	if (strchr(name, '.'))
		return n == len && !memcmp(name, callee, len);
	last = callee + len;
	while (last > callee && last[-1] != '.')
		last--;
	return (size_t)(callee + len - last) == n && !memcmp(last, name, n);
}

static const struct tg_owner *match(const struct tg_owner *v, size_t nr,
				    const char *callee, size_t len)
{
	for (size_t i = 0; i < nr; i++)
		if (name_matches(v[i].name, callee, len))
			return &v[i];
	return NULL;
}

const struct tg_owner *tg_owner_table_match_owner(const struct tg_owner_table *o,
					     const char *callee, size_t len)
{
	return o ? match(o->owners, o->nowners, callee, len) : NULL;
}

const struct tg_owner *tg_owner_table_match_factory(const struct tg_owner_table *o,
					       const char *callee, size_t len)
{
	return o ? match(o->factories, o->nfactories, callee, len) : NULL;
}
