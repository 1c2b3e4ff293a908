/**
 * infer.h: what one Python file defines and uses that matters for owners
 * and factories (SPEC §4, §5), and a resolver over many files.
 *
 * Inference turns a parsed file into plain data: no TSNode survives it,
 * so the result can be cached by blob id (ownerdb.h). The data is a
 * compact serialized record (tg_infer_pyfile / tg_infer_blob) that
 * tg_inferred_decode() turns into a struct tg_inferred for a given path.
 * Relative imports are stored unresolved ("..db.get_session") and
 * resolved at decode time against the path's module, so one blob cached
 * once serves every path it appears at.
 *
 * What is recorded:
 * - imports: local name -> fully qualified name (`import a.b as z`,
 *   `from a.b import c as d`, `from .x import y`); `import a.b` binds a.
 * - definitions at module or class level (qualname "Svc.session"):
 *   - TG_DEF_CM: a function decorated @contextmanager /
 *     @asynccontextmanager in any spelling (resolved through the file's
 *     imports; any decorator whose last name part is one of those two);
 *   - TG_DEF_GEN: an undecorated generator function (FastAPI dependency);
 *   both kept only when they own by themselves (`owns`: they yield a name
 *   and call name.commit() after the yield outside an except clause, or
 *   yield it inside `with X.begin()` / `with X.begin() as name`) or wrap
 *   a call (`target`: `async with target(...) as s: yield s`), which
 *   owns iff `target` resolves to an owner (transitively);
 *   - TG_DEF_FACTORY: NAME = sessionmaker(...) / async_sessionmaker(...)
 *     / scoped_session(...), any import spelling;
 *   - TG_DEF_ALIAS: NAME = Annotated[T, Depends(P)] (`target` = P).
 * - uses: callee texts used as context managers (`with X(...)`),
 *   Depends(X) targets and parameter annotation names, so the users of
 *   a definition can be found without parsing (SPEC §4).
 * - locals: other module-level names (defs, classes, assignments): a
 *   local name shadows any import or repository-wide definition.
 *
 * The walk is iterative (TSTreeCursor): any nesting depth is safe.
 */
#ifndef TXGUARD_INFER_H
#define TXGUARD_INFER_H

#include "txguard/common.h"

struct tg_pyfile;
struct tg_buf;
struct tg_owner;

enum tg_def_kind {
	TG_DEF_CM = 1,  /* decorated context manager */
	TG_DEF_GEN,     /* undecorated generator: a dependency */
	TG_DEF_FACTORY, /* bound to sessionmaker(...) & co */
	TG_DEF_ALIAS,   /* bound to Annotated[..., Depends(target)] */
};

/** One definition; strings borrow from the tg_inferred holding it. */
struct tg_def {
	const char *name;     /* last part: "get_db" */
	const char *qualname; /* "get_db", "Svc.session" */
	const char *target;   /* wrapped callee / Depends target, or NULL */
	const char *how;      /* "commits after yield", or NULL */
	uint32_t line;        /* 1-based line of the def / assignment */
	enum tg_def_kind kind;
	bool owns;            /* owns by itself (CM/GEN) */
};

struct tg_import {
	const char *local; /* "helpers" */
	const char *fqn;   /* "app.session_helpers" */
};

/** One file's inference, decoded for one path. Free with tg_inferred_free. */
struct tg_inferred {
	char *path;
	char *module; /* "app.db"; "app" for app/__init__.py */
	struct tg_import *imports;
	size_t nimports;
	struct tg_def *defs;
	size_t ndefs;
	const char **uses;
	size_t nuses;
	const char **locals;
	size_t nlocals;
	char *strs; /* arena the pointers above borrow from */
};

/**
 * The version of what inference extracts. A cached record made by another
 * version is never trusted: bump this whenever a change to the walk, the
 * pre-filter or the record format can change a record made from the same
 * bytes at the same path.
 */
#define TG_INFER_VERSION 1

/** Flags in the first byte of a serialized record. */
enum tg_infer_flags {
	TG_INFER_HAS_DEFS = 1 << 0,
	TG_INFER_HAS_USES = 1 << 1,
	/*
	 * The inference stopped at a bound before the end of the file: the
	 * record is usable for this run but is never written to the cache.
	 */
	TG_INFER_INCOMPLETE = 1 << 2,
};

/** Whether `path` is a package's `__init__.py` (re-exports live there). */
bool tg_infer_is_package(const char *path);

/**
 * Whether a serialized record makes its file a resolution target: it
 * defines something, or it is a package that imports (re-exports). The
 * owner index keeps just these; the resolver gives any other record only
 * to its own file's queries.
 */
bool tg_infer_is_target(const char *path, const void *data, size_t len);

/**
 * The cheap pre-filter: false when `len` bytes cannot contain any
 * definition or use (no "yield", "sessionmaker", "scoped_session",
 * "Depends" nor "with"), so the blob need not be parsed. __init__.py
 * files always pass, for their re-exports.
 */
bool tg_infer_wanted(const char *path, const char *src, size_t len);

/** The module name of `path`: "app/db.py" -> "app.db"; caller frees. */
char *tg_infer_module(const char *path);

/**
 * Append to `out` the serialized inference of `py` (never fails: odd
 * input gives fewer records).
 */
void tg_infer_pyfile(struct tg_buf *out, const struct tg_pyfile *py);

/**
 * Pre-filter, parse and infer `len` bytes into `out` (left empty when the
 * filter rejects the blob or it is binary or unparseable).
 * *parsed tells whether the parser ran (may be NULL). Returns 0.
 */
int tg_infer_blob(struct tg_buf *out, bool *parsed, const char *path,
		  const char *src, size_t len);

/**
 * Decode a serialized record for `path` (an empty record decodes to an
 * empty file). Errors: TG_EPARSE (malformed: never trust it).
 */
int tg_inferred_decode(struct tg_inferred **out, const char *path,
		       const void *data, size_t len);
void tg_inferred_free(struct tg_inferred *inf);

/**
 * The last name parts of the definitions that differ between two
 * serialized records of one file (appeared, disappeared, or changed
 * kind, ownership or target): the names whose users must be re-checked
 * (SPEC §4). Appends tg_xstrdup'ed strings to *names.
 */
void tg_infer_changed_names(char ***names, size_t *nr, size_t *alloc,
			    const void *old_data, size_t old_len,
			    const void *new_data, size_t new_len);

/*
 * The resolver: definitions of many files, queried with (file, callee).
 *
 * Resolution of callee `C` in file `F`:
 * 1. `self.x` / `cls.x`: a definition of F whose qualname ends in ".x".
 * 2. a definition of F whose qualname is C (local definitions win);
 *    a local non-definition name (a def that does not own, a class, an
 *    assignment) shadows: not found.
 * 3. C's first part imported by F: the fully qualified name is split at
 *    the longest known module (a module can also match by suffix, for
 *    src/ layouts, when exactly one file ends so) and the rest looked up
 *    there; a name the module only imports (a re-export) is followed, at
 *    most 8 hops. A module outside the repository: not found.
 * 4. otherwise, for an undotted name F does not bind (star imports),
 *    the one definition in the whole repository with that name, if there
 *    is exactly one; `fallback` is set. A dotted callee whose first part
 *    F does not bind (`client.session`, client a parameter) is an
 *    attribute of a runtime object: never guessed.
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
	TG_RESOLVED_CM,         /* a context manager definition */
	TG_RESOLVED_DEPENDENCY, /* a generator dependency */
	TG_RESOLVED_FACTORY,
	TG_RESOLVED_ALIAS,      /* Annotated[..., Depends(P)] */
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
 * lazy: a malformed record makes that file empty when first needed.
 */
void tg_resolver_add(struct tg_resolver *r, const char *path,
		     const void *data, size_t len, bool copy);

/**
 * Gives the record of a file added with tg_resolver_add_lazy(): borrowed,
 * or a fresh buffer left in *owned for the resolver to free. It may run
 * on any thread that queries, under the resolver's lock, and must not
 * fail (tg_ownerdb_load() exits instead).
 */
typedef const unsigned char *(*tg_resolver_load_fn)(const void *key,
						    unsigned char **owned);

/**
 * tg_resolver_add() for a record of `len` bytes the resolver does not
 * hold: `load(key)` gives it each time the file is decoded, so a resolver
 * of many targets holds their paths, not their records (§11). `head` is
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
 * Add the record of `path` (copied; from the owner index or the caller's
 * own parse), when tg_resolver_needs() says so; otherwise nothing.
 * Unlike tg_resolver_add() it never invalidates earlier answers, so
 * threads that share the resolver may call it while others query: the
 * engine fills in each file it analyses right before analysing it. A
 * record that is no resolution target (no definitions; not a package
 * whose imports tg_resolver_reaches() a target) serves only queries
 * from `path` itself, so no other file's answers depend on the order
 * files are analysed in.
 */
void tg_resolver_fill(struct tg_resolver *r, const char *path,
		      const void *data, size_t len);

/**
 * Whether a lookup through one of the record's imports could reach a
 * target the resolver holds: a dotted start of an import's name is a
 * target's module or one of its dotted suffixes, or the name is a dotted
 * start of one. A package whose imports reach none re-exports nothing a
 * query can find, and resolves like a module the resolver lacks; the
 * owner index leaves such packages out (§11).
 */
bool tg_resolver_reaches(struct tg_resolver *r, const char *path,
			 const void *data, size_t len);

/**
 * The analysis of `path` is over: the answers remembered for its queries
 * go, a record tg_resolver_fill() gave it that serves only its own
 * queries is dropped (a later fill brings it back), and a resolution
 * target's decoding goes (its record stays), so a scan holds the records
 * and answers of the files being analysed, not of every file analysed
 * so far (§11). Owners handed out stay valid: one object per
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

/** The decoded file `path`, or NULL if the resolver has none. */
const struct tg_inferred *tg_resolver_file(struct tg_resolver *r,
					   const char *path);

#endif
