/**
 * callee.h: what a call creates or opens: SQLAlchemy's begin(), an owner
 * (configured or inferred), a session factory. The answers are
 * remembered per file (struct tg_classify_memo): a callee's class cannot
 * change while one file is analysed.
 */
#ifndef TXGUARD_CALLEE_H
#define TXGUARD_CALLEE_H

#include "txguard/common.h"
#include "txguard/analyze_rule.h"

struct tg_owner;

/** What a call creates or opens. */
enum tg_call_class {
	TG_CALL_NONE,
	TG_CALL_BEGIN,        /* X.begin() */
	TG_CALL_BEGIN_NESTED, /* X.begin_nested() */
	TG_CALL_OWNER,        /* a configured or inferred owner */
	TG_CALL_FACTORY,      /* a new session: Session(...), a factory */
};

/*
 * A name's class as a callee cannot change while one file is analysed
 * (the resolver's answers stay valid until a file is added),
 * and loops ask about the same few callees again and again: remember
 * them, in an open-addressing table keyed by the normalised callee.
 */
struct tg_classified {
	char *callee; /* owned; NULL for an empty slot */
	enum tg_call_class cls;
	const struct tg_owner *owner;
	bool known;   /* cls is the class; else only: not a factory */
};

struct tg_classify_memo {
	struct tg_classified *v;
	size_t nr, alloc; /* alloc: 0 or a power of two */
};

/**
 * Classify `call` (a call node): SQLAlchemy's begin()/begin_nested(),
 * an owner (configured, or resolved through the file's imports by
 * opts->resolver) or a session factory (Session/AsyncSession imported
 * from SQLAlchemy or unbound, configured names, names bound to
 * sessionmaker(...) / async_sessionmaker(...); scoped_session registries
 * hand out the thread's one session and are not factories). *owner gets
 * the registry entry for TG_CALL_OWNER and, when there is one, for
 * TG_CALL_FACTORY (NULL for SQLAlchemy's own classes).
 */
enum tg_call_class tg_callee_classify(const struct tg_actx *cx, TSNode call,
				       const struct tg_owner **owner);

struct tg_commit_site;

/**
 * Whether the function `call` calls commits or rolls back the argument
 * passed at position `pos` (counted as a call on an instance counts
 * them) or as keyword `kw` (`kwlen` bytes, NULL for a positional one),
 * itself or through what it calls (resolver.h), for this call's
 * arguments; with `escape`, whether it hands it to background work.
 * *out is filled when it does; release it with tg_commit_site_release().
 */
bool tg_callee_commits(const struct tg_actx *cx, TSNode call, long pos,
		       const char *kw, size_t kwlen, bool escape,
		       struct tg_commit_site *out);

/**
 * Whether `call` passes a session to a function that commits it
 * (tg_callee_commits()): a plain argument owned at the call
 * (tg_analyze_owned()), or, with `escape`, one any block or the request
 * scope holds, handed to background work by the function. *o gets the
 * scope's entry and *out the site, to release.
 */
bool tg_callee_passes(const struct tg_actx *cx, TSNode call, bool escape,
		      const struct tg_owned **o, struct tg_commit_site *out);

/**
 * tg_callee_classify(cx, call, owner) == TG_CALL_FACTORY, answered
 * with fewer resolver queries (the owner question only for a factory).
 */
bool tg_callee_is_factory(const struct tg_actx *cx, TSNode call,
			const struct tg_owner **owner);

/**
 * The description of a factory for messages: "async_session_factory,
 * defined at app/db.py:9 (async_sessionmaker)", "SessionLocal (factory
 * configured in .txguard)", "SQLAlchemy's AsyncSession". Caller frees.
 */
char *tg_callee_factory_desc(const struct tg_actx *cx, TSNode call,
			      const struct tg_owner *owner);

/**
 * An owner for messages: "get_db, defined at app/db.py:12, commits
 * after yield", "get_session (owner configured in .txguard)". Caller
 * frees.
 */
char *tg_callee_owner_desc(const struct tg_owner *owner);

/** Free the answers remembered in `m`; it is empty and reusable. */
void tg_callee_memo_release(struct tg_classify_memo *m);

#endif
