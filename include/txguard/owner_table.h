/**
 * owner_table.h: which calls create a context manager that owns the
 * transaction (commits or rolls back on exit), and which are session
 * factories.
 *
 * Names match the called expression as written, dotted or not:
 * "db.get_session" matches only that spelling; "get_session" matches any
 * call whose last name part is get_session. SQLAlchemy's own `X.begin()`
 * and `X.begin_nested()` are built in and need no entry.
 */
#ifndef TXGUARD_OWNER_TABLE_H
#define TXGUARD_OWNER_TABLE_H

#include "txguard/common.h"

enum tg_owner_origin {
	TG_OWNER_BUILTIN,    /* X.begin(), X.begin_nested() */
	TG_OWNER_CONFIGURED, /* `owner =` / `factory =` in .txguard */
	TG_OWNER_INFERRED,   /* found in the repository's code */
};

struct tg_owner {
	char *name;   /* "get_background_session" or "db.get_session" */
	enum tg_owner_origin origin;
	char *where;  /* "app/db.py:41", ".txguard" or NULL, owned */
	char *how;    /* "commits on exit", owned, may be NULL */
	/*
	 * An inferred owner that owns only for some arguments of its call
	 * (argsel.h), owned; NULL when it always owns.
	 */
	char *guard;
};

struct tg_owner_table {
	struct tg_owner *owners;
	size_t nowners, alloc_owners;
	struct tg_owner *factories;
	size_t nfactories, alloc_factories;
};

#define TG_OWNER_TABLE_INIT { 0 }

void tg_owner_table_add_owner(struct tg_owner_table *o, const char *name,
			 enum tg_owner_origin origin, const char *where,
			 const char *how);
void tg_owner_table_add_factory(struct tg_owner_table *o, const char *name,
			   enum tg_owner_origin origin, const char *where);
void tg_owner_table_release(struct tg_owner_table *o);

/**
 * The owner (or factory) matching the callee text `callee` (e.g.
 * "get_background_session", "db.get_session"; no arguments), or NULL.
 */
const struct tg_owner *tg_owner_table_match_owner(const struct tg_owner_table *o,
					     const char *callee, size_t len);
const struct tg_owner *tg_owner_table_match_factory(const struct tg_owner_table *o,
					       const char *callee, size_t len);

#endif
