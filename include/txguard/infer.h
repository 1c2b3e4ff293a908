/**
 * infer.h: the walk that finds what one Python file defines and uses
 * that matters for owners and factories, and its pre-filter.
 *
 * Inference turns a parsed file into plain data: no TSNode survives it,
 * so the result can be cached by blob id (ownerdb.h). The data is a
 * compact record (inferred.h) made by tg_infer_pyfile / tg_infer_blob.
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
 *   - TG_DEF_CM also for a class whose __exit__ / __aexit__ commits
 *     `self` or `self.<attr>` outside an except clause (qualname the
 *     class's, `how` "commits in __exit__"), for NAME =
 *     contextmanager(F) / asynccontextmanager(F) (`target` = F), and for
 *     a decorated helper defined in a function at definition level
 *     (qualname "f.<locals>.name"), owning or not, so it shadows;
 *   - TG_DEF_FACTORY: NAME = sessionmaker(...) / async_sessionmaker(...)
 *     / scoped_session(...), any import spelling (`target` = its
 *     `class_=X` argument, or NULL);
 *   - TG_DEF_ALIAS: NAME = Annotated[T, Depends(P)] or NAME =
 *     Depends(P) (`target` = P);
 *   - TG_DEF_INSTANCE: NAME = Cls(...) at module level, or self.NAME =
 *     Cls(...) in a method (qualname "Class.NAME"), Cls a capitalised
 *     name (`target` = Cls as written);
 *   - TG_DEF_DECORATOR: a module-level decorator whose returned wrapper
 *     hands the wrapped function a session a `with` opens (inferred.h).
 * - uses: callee texts used as context managers (`with X(...)`),
 *   decorators of functions (`@with_session`, `@db.transactional`),
 *   Depends(X) targets, parameter annotation names and default names,
 *   and the imported object of `obj.method` (obj), so the users of
 *   a definition can be found without parsing; a use through a renamed
 *   import (`SessionDep as Db`) also by the imported name.
 * - locals: other module-level names (defs, classes, assignments): a
 *   local name shadows any import or repository-wide definition.
 *
 * The walk is iterative (TSTreeCursor): any nesting depth is safe.
 */
#ifndef TXGUARD_INFER_H
#define TXGUARD_INFER_H

#include "txguard/common.h"
#include "txguard/inferred.h"

struct tg_pyfile;
struct tg_buf;

/**
 * The version of what inference extracts. A cached record made by another
 * version is never trusted: bump this whenever a change to the walk, the
 * pre-filter or the record format can change a record made from the same
 * bytes at the same path.
 */
#define TG_INFER_VERSION 5

/** Whether `path` is a package's `__init__.py` (re-exports live there). */
bool tg_infer_is_package(const char *path);

/**
 * The cheap pre-filter: false when `len` bytes cannot contain any
 * definition, nor a use that can matter to a rule (no "yield",
 * "sessionmaker", "scoped_session", "Depends", `with` statement, nor
 * any word a finding on an aliased parameter needs: "commit",
 * "rollback", the calls that hand work to a task or thread), so the
 * blob need not be parsed. __init__.py files always pass, for their
 * re-exports.
 */
bool tg_infer_wanted(const char *path, const char *src, size_t len);

/** The module name of `path`: "app/db.py" -> "app.db"; caller frees. */
char *tg_infer_module(const char *path);

/*
 * The work the walk may do on `len` bytes, in steps (a node visited, a
 * frame of the scope stack looked at): far above what any real code
 * needs (a few per byte), and reached only by inputs made to be slow.
 * Counted, never timed, so the record depends only on the bytes.
 */
#define TG_INFER_OPS_BASE ((size_t)1 << 20)
#define TG_INFER_OPS_PER_BYTE ((size_t)32)
size_t tg_infer_max_ops(size_t len);

/**
 * Append to `out` the serialized inference of `py` (never fails: odd
 * input gives fewer records). A walk that reaches tg_infer_max_ops()
 * stops there: the record holds what was found before, with
 * TG_INFER_INCOMPLETE in its flags.
 */
void tg_infer_pyfile(struct tg_buf *out, const struct tg_pyfile *py);

/** tg_infer_pyfile() with the bound `max_ops` instead. */
void tg_infer_pyfile_bounded(struct tg_buf *out, const struct tg_pyfile *py,
			     size_t max_ops);

/**
 * Pre-filter, parse and infer `len` bytes into `out` (left empty when the
 * filter rejects the blob or it is binary or unparseable).
 * *parsed tells whether the parser ran (may be NULL). Returns 0.
 */
int tg_infer_blob(struct tg_buf *out, bool *parsed, const char *path,
		  const char *src, size_t len);

#endif
