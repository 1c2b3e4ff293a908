/**
 * inferred.h: the record of one file's inference, and its decoding.
 *
 * A record is plain bytes (so the owner index can cache it by blob id):
 * a flags byte, then varint counts and NUL-terminated strings for the
 * imports, definitions, uses and locals of struct tg_inferred. Relative
 * imports are stored unresolved ("..db.get_session") and resolved at
 * decode time against the path's module, so one blob's record serves
 * every path it appears at. infer.h makes records; resolver.h answers
 * queries over many.
 */
#ifndef TXGUARD_INFERRED_H
#define TXGUARD_INFERRED_H

#include "txguard/common.h"

struct tg_buf;

enum tg_def_kind {
	TG_DEF_CM = 1,	/* decorated context manager */
	TG_DEF_GEN,	/* undecorated generator: a dependency */
	TG_DEF_FACTORY, /* bound to sessionmaker(...) & co */
	TG_DEF_ALIAS,	/* bound to Annotated[..., Depends(target)] */
	/*
	 * NAME = Target(...) at module level, or self.NAME = Target(...)
	 * in a method (qualname "Cls.NAME"): an object whose methods may
	 * own. Alone it makes no file a resolution target: it serves the
	 * file's own queries and those reaching a file that defines more.
	 */
	TG_DEF_INSTANCE,
	/*
	 * A function or method ("Cls.meth") that commits, rolls back or
	 * hands to background work the parameter `param` (index
	 * `param_index`), itself or through the call `target` (which gets
	 * it as argument `arg`).
	 */
	TG_DEF_COMMITS,
	/*
	 * A module-level decorator D(func) returning a wrapper of its own
	 * that opens `with target(...) as NAME:` (or `with NAME.begin():`,
	 * `target` then "NAME.begin") and calls func with NAME: as the
	 * keyword `param` (`func(*args, session=NAME)`, param_index -1), or
	 * with `param` NULL as positional argument `param_index`
	 * (`func(NAME, *args)`; none after a `*args`). Whether it owns is
	 * the resolver's question: `target` looked up from D's file.
	 */
	TG_DEF_DECORATOR,
};

/** One definition; strings borrow from the tg_inferred holding it. */
struct tg_def {
	const char *name;     /* last part: "get_db" */
	const char *qualname; /* "get_db", "Svc.session" */
	const char *target;   /* wrapped callee / Depends target, or NULL */
	const char *how;      /* "commits after yield", or NULL */
	/*
	 * The parameter a definition concerns (TG_DEF_COMMITS,
	 * TG_DEF_DECORATOR), or NULL; its 0-based index among the
	 * positional parameters (self included), or -1 for keyword-only.
	 */
	const char *param;
	int32_t param_index;
	/*
	 * How the callee `target` receives the parameter: "2" (third
	 * positional) or a keyword ("session"), or NULL.
	 */
	const char *arg;
	/*
	 * When the definition holds only for some arguments of its calls:
	 * "[!]NAME:INDEX:D", true when parameter NAME (positional index
	 * INDEX, -1 for keyword-only) is truthy ("!": falsy); D is the
	 * default's truthiness, 't', 'f', or '-' (no literal default).
	 * NULL when it always holds.
	 */
	const char *guard;
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

/**
 * Append the record of `inf` to `out` (path and module are not stored).
 * `flags` may hold TG_INFER_INCOMPLETE; TG_INFER_HAS_DEFS and
 * TG_INFER_HAS_USES are set from the contents.
 */
void tg_inferred_encode(struct tg_buf *out, const struct tg_inferred *inf,
			unsigned flags);

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
 *. Appends tg_xstrdup'ed strings to *names.
 */
void tg_inferred_changed_names(char ***names, size_t *nr, size_t *alloc,
			       const void *old_data, size_t old_len,
			       const void *new_data, size_t new_len);

/**
 * The names whose binding differs between two serialized records of the
 * file `path`: imported on one side only or from another place, or bound
 * by a module-level local (which shadows an import) on one side only.
 * What such a name resolves to may have changed, for the file and for
 * every file that reaches a definition through it (a re-export, a
 * wrapper's target). Appends tg_xstrdup'ed strings to *names.
 */
void tg_inferred_changed_bindings(char ***names, size_t *nr, size_t *alloc,
				  const char *path, const void *old_data,
				  size_t old_len, const void *new_data,
				  size_t new_len);

/**
 * Whether a serialized record makes its file a resolution target: it
 * defines something, or it is a package that imports (re-exports). The
 * owner index keeps just these; the resolver gives any other record only
 * to its own file's queries.
 */
bool tg_inferred_is_target(const char *path, const void *data, size_t len);

#endif
