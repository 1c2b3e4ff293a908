/**
 * resolver.h: the definitions of many files (their inference records,
 * inferred.h), queried with (file, callee).
 */
#ifndef TXGUARD_RESOLVER_H
#define TXGUARD_RESOLVER_H

#include "txguard/common.h"
#include "txguard/inferred.h"

struct tg_owner;
struct tg_owner_table;

/*
 * Resolution of callee `C` in file `F`:
 * 1. `self.x` / `cls.x`: a definition of F whose qualname ends in ".x".
 * 2. a definition of F whose qualname is C (local definitions win);
 *    a local non-definition name (a def that does not own, a class, an
 *    assignment) shadows: not found.
 * 3. C's first part imported by F: the fully qualified name is split at
 *    the longest known module (a module can also match by suffix, for
 *    src/ layouts, when exactly one file ends so) and the rest looked up
 *    there; a name a package's __init__.py only imports (a re-export)
 *    is followed, at most 8 hops. A plain module's imports serve its own
 *    code: looked up from another file, it binds only what it defines
 *    (so what a name means through it never depends on a record a check
 *    does not read). A module outside the repository: not found.
 * 4. otherwise, for an undotted name F does not bind (star imports),
 *    the one definition in the whole repository with that name, if there
 *    is exactly one; `fallback` is set. A dotted callee whose first part
 *    F does not bind (`client.session`, client a parameter) is an
 *    attribute of a runtime object: never guessed.
 * A callee written "::a.b.f" is the fully qualified name a.b.f, looked
 * up as in 3. (what a function's own import names; units.h).
 * Wrappers (`target`) and aliases are resolved the same way from the
 * file that defines them, at most 16 levels deep, a cycle never owns.
 *
 * The resolver locks itself: scan threads may share one. Answers stay
 * valid until the resolver is freed or a file is added or replaced
 * (add every file first, then query); the definition and file a
 * tg_resolution borrows, until tg_resolver_done() for the file holding
 * the definition (owners are copies, valid to the end).
 */
enum tg_resolved_kind {
	TG_RESOLVED_NONE,
	TG_RESOLVED_CM,		/* a context manager definition */
	TG_RESOLVED_DEPENDENCY, /* a generator dependency */
	TG_RESOLVED_FACTORY,
	TG_RESOLVED_ALIAS,     /* Annotated[..., Depends(P)] */
	TG_RESOLVED_DECORATOR, /* injects a session; owns: its block owns */
};

struct tg_resolution {
	enum tg_resolved_kind kind;
	bool owns;            /* CM/GEN: owns (through wrappers); ALIAS: P owns */
	bool fallback;        /* found by last name part only (rule 4) */
	const char *path;     /* file of the definition (borrowed) */
	const struct tg_def *def; /* borrowed from the resolver */
};

struct tg_resolver;

struct tg_resolver *tg_resolver_new(void);
void tg_resolver_free(struct tg_resolver *r);

/**
 * Add (or replace) the file `path` with a serialized record. With `copy`
 * false the bytes are borrowed and must outlive the resolver. Decoding is
 * lazy: a malformed record makes that file empty when first needed. A
 * record that is no resolution target (tg_inferred_is_target(): empty,
 * or no definitions and not a package that imports) serves only queries
 * from `path` itself, and replacing a target with one makes the file
 * absent for every other file's lookups.
 */
void tg_resolver_add(struct tg_resolver *r, const char *path,
		     const void *data, size_t len, bool copy);

/**
 * tg_resolver_add() (borrowed bytes) of the record of a blob that was at
 * `from`, for the queries from `path` alone: its relative imports
 * resolve as at `from`, and no other file's lookups go into it. A
 * renamed file's pre-image is analysed under its new path (its
 * findings' fingerprints carry the path) but meant what it meant where
 * it was.
 */
void tg_resolver_add_moved(struct tg_resolver *r, const char *path,
			   const char *from, const void *data, size_t len);

/**
 * Gives the record of a file added with tg_resolver_add_lazy(): borrowed,
 * or a fresh buffer left in *owned for the resolver to free. It may run
 * on any thread that queries, under the resolver's lock. On failure it
 * returns NULL with an error set (error.h): the file then resolves as
 * empty, and tg_resolver_error() says so, for the caller to fail the run.
 */
typedef const unsigned char *(*tg_resolver_load_fn)(const void *key,
						    unsigned char **owned);

/**
 * tg_resolver_add() for a record of `len` bytes the resolver does not
 * hold: `load(key)` gives it each time the file is decoded, so a resolver
 * of many targets holds their paths, not their records. `head` is
 * the record's first two bytes. One resolver takes one `load`.
 */
void tg_resolver_add_lazy(struct tg_resolver *r, const char *path,
			  size_t len, const unsigned char head[2],
			  tg_resolver_load_fn load, const void *key);

/**
 * Whether `path` lacks a record worth having: absent, or empty (the
 * index's pre-filter skipped its blob, so its imports are unknown).
 */
bool tg_resolver_needs(struct tg_resolver *r, const char *path);

/**
 * Whether the record the resolver holds for `path` is TG_INFER_INCOMPLETE:
 * the inference stopped at its bound, so the file's imports, definitions
 * and uses were read in part.
 */
bool tg_resolver_incomplete(struct tg_resolver *r, const char *path);

/**
 * Add the record of `path` (copied; from the owner index or the caller's
 * own parse), when tg_resolver_needs() says so; otherwise nothing.
 * Unlike tg_resolver_add() it never invalidates earlier answers, so
 * threads that share the resolver may call it while others query: the
 * engine fills in each file it analyses right before analysing it. A
 * file the resolver lacks joins for queries from `path` itself only,
 * even when its record would make it a resolution target (the owner
 * index holds every target it knows from the start), so no other
 * file's answers depend on the order files are analysed in.
 */
void tg_resolver_fill(struct tg_resolver *r, const char *path,
		      const void *data, size_t len);

/**
 * Whether a lookup through one of the record's imports could reach a
 * target the resolver holds: a dotted start of an import's name is a
 * target's module or one of its dotted suffixes, or the name is a dotted
 * start of one. A package whose imports reach none re-exports nothing a
 * query can find, and resolves like a module the resolver lacks; the
 * owner index leaves such packages out.
 */
bool tg_resolver_reaches(struct tg_resolver *r, const char *path,
			 const void *data, size_t len);

/**
 * The analysis of `path` is over: the answers remembered for its queries
 * go, a record tg_resolver_fill() gave it that serves only its own
 * queries is dropped (a later fill brings it back), and a resolution
 * target's decoding goes (its record stays), so a scan holds the records
 * and answers of the files being analysed, not of every file analysed
 * so far. Owners handed out stay valid: one object per
 * definition, shared by every file that reaches it.
 */
void tg_resolver_done(struct tg_resolver *r, const char *path);

/**
 * How many answers the resolver remembers, over all querying files (the
 * tests see that tg_resolver_done() lets them go).
 */
size_t tg_resolver_remembered(struct tg_resolver *r);

/** Resolve `callee` (`len` bytes, dotted, no call) as used in `path`. */
int tg_resolver_lookup(struct tg_resolution *out, struct tg_resolver *r,
		       const char *path, const char *callee, size_t len);

/**
 * Resolve the fully qualified `fqn` ("app.db.get_session") as another
 * file importing it would (rule 3, never rule 4).
 */
int tg_resolver_lookup_fqn(struct tg_resolution *out, struct tg_resolver *r,
			   const char *fqn, size_t len);

/*
 * Shortcuts for analyze.c: a tg_owner (origin TG_OWNER_INFERRED, name =
 * qualname, where = "app/db.py:41", how = "commits after yield",
 * "yields inside session.begin()", "wraps get_session (app/db.py:12,
 * commits after yield)" ...) owned by the resolver, or NULL.
 *   owner:      `with C(...)` is an owning context manager;
 *   dependency: `Depends(C)` is an owning generator dependency;
 *   alias:      annotation `C` is an alias of an owning dependency;
 *   factory:    `C(...)` creates a session.
 */
const struct tg_owner *tg_resolver_owner(struct tg_resolver *r,
					 const char *path, const char *callee,
					 size_t len);
const struct tg_owner *tg_resolver_dependency(struct tg_resolver *r,
					      const char *path,
					      const char *callee, size_t len);
const struct tg_owner *tg_resolver_alias(struct tg_resolver *r,
					 const char *path, const char *name,
					 size_t len);
const struct tg_owner *tg_resolver_factory(struct tg_resolver *r,
					   const char *path,
					   const char *callee, size_t len);

/*
 * A decorator that injects an owning session into the functions it
 * decorates: its wrapper opens a block whose manager owns (an owner
 * `with X() as s` would find from the decorator's file, `X.begin()`,
 * or a name configured in `reg`, which may be NULL) and passes the
 * session on as keyword `param`, or else as positional argument
 * `param_index`. `owner` describes the decorator for messages (name,
 * where it is defined, how: "injects `session` from get_session, defined
 * at app/db.py:12, commits after yield"); it is the resolver's.
 * `param` is the caller's to free.
 */
struct tg_injection {
	const struct tg_owner *owner; /* NULL: not an injecting owner */
	char *param;
	int param_index;
};

/**
 * Resolve the decorator `name` (dotted, as written on a def in `path`)
 * and say whether it injects an owning session (tg_injection). Returns 0.
 */
int tg_resolver_decorator(struct tg_injection *out, struct tg_resolver *r,
			  const struct tg_owner_table *reg, const char *path,
			  const char *name, size_t len);

/**
 * 0, or the error of the first record the loader failed to give
 * (set again with tg_error_set): answers given since may lack that
 * file's definitions, so the run must not be trusted. Errors: TG_EIO.
 */
int tg_resolver_error(struct tg_resolver *r);

/** The decoded file `path`, or NULL if the resolver has none. */
const struct tg_inferred *tg_resolver_file(struct tg_resolver *r,
					   const char *path);

/**
 * Where a function commits (or rolls back) a parameter: what
 * tg_resolver_commits() found. Every string is owned: the record it
 * comes from may be dropped by another thread's tg_resolver_done().
 */
struct tg_commit_site {
	char *verb;   /* "commit", "rollback" or "escape" */
	char *param;  /* the called function's parameter */
	char *guard;  /* argsel.h: the arguments it needs, or NULL */
	char *callee; /* the function called: "ItemService.create" */
	char *where;  /* the commit: "app/repos.py:4 (through Repo.save)" */
};

/**
 * Whether the function `callee` (as written in `path`) commits or rolls
 * back the argument its call passes at position `pos` (as a call on an
 * instance counts them) or as keyword `kw` (`kwlen` bytes; NULL for a
 * positional one), itself or through the functions it passes it to
 * (TG_DEF_COMMITS), across files. A name found only by its last part
 * (rule 4 above) is not followed. The caller checks `guard` against the
 * call's arguments (tg_argsel_selects()). With `escape`, the same for a
 * function that hands the argument to background work (a task, a
 * thread, a background task) instead. Release with
 * tg_commit_site_release().
 */
bool tg_resolver_commits(struct tg_commit_site *out, struct tg_resolver *r,
			 const char *path, const char *callee, size_t len,
			 long pos, const char *kw, size_t kwlen, bool escape);
void tg_commit_site_release(struct tg_commit_site *s);

#endif
