/**
 * argsel.h: definitions that hold only for some arguments of their calls.
 *
 * A helper that commits only when a parameter says so (`if commit:
 * s.commit()`, `with s.begin() if transactional else nullcontext():`,
 * `if no_commit: return`) is described by a guard string,
 * "[!]NAME:INDEX:D": it holds when parameter NAME (positional index
 * INDEX as a call passes it, -1 for keyword-only) is truthy, or falsy
 * with "!"; D is the truthiness of its default, 't' or 'f', or '-' when
 * the default is absent or not a literal. At a call site the guard
 * holds only when the argument passed, or the default when none is, is
 * a literal that selects it: any other argument does not (precision
 * first).
 */
#ifndef TXGUARD_ARGSEL_H
#define TXGUARD_ARGSEL_H

#include "txguard/common.h"
#include "txguard/pyparse.h"

#include <tree_sitter/api.h>

/** One parameter of a function. */
struct tg_param {
	char *name;
	int32_t index; /* as a call passes it; -1: keyword-only or *args */
	char dflt;     /* default's truthiness: 't', 'f', '-' */
	bool plain;    /* annotated as a number, string, id...: no session */
	/*
	 * Named like a session (tg_session_name()) or annotated with a
	 * type naming a Session or a Connection.
	 */
	bool session_like;
};

struct tg_params {
	struct tg_param *v;
	size_t nr;
};

/**
 * Read the parameters of `func` (a function_definition). For a method
 * (`drop_first`: not a staticmethod) the first parameter, `self` or
 * `cls`, is dropped and the indexes count from the argument after it,
 * as a call on an instance passes them.
 */
void tg_params_read(struct tg_params *out, const struct tg_pyfile *py,
		    TSNode func, bool drop_first);
void tg_params_release(struct tg_params *p);

/**
 * Whether a name's last part says it holds a session or a connection:
 * `session`, `sess`, `db`, `uow`, `conn`, `connection`, or one ending in
 * `session`, `connection`, `_db` or `_conn`, leading underscores and
 * case aside (`self._db_session`, `uow.session`).
 */
bool tg_session_name(const char *name, size_t len);

/** The parameter called `name` (`len` bytes), or NULL. */
const struct tg_param *tg_params_find(const struct tg_params *p,
				      const char *name, size_t len);

/**
 * The guard under which `node`, inside the body of `func`, runs: the
 * innermost `if P:` / `if not P:` holding it (its else arm negated), or
 * an earlier `if P: return` in an enclosing block, where P is a
 * parameter of `params`. NULL when no parameter decides (the node runs
 * on some path whatever the arguments). Caller frees.
 */
char *tg_argsel_guard(const struct tg_pyfile *py, TSNode node, TSNode func,
		      const struct tg_params *params);

/**
 * The guard of a condition `cond` (`P` or `not P`), negated when
 * `negate`; NULL when it is not a parameter test. Caller frees.
 */
char *tg_argsel_cond(const struct tg_pyfile *py, TSNode cond, bool negate,
		     const struct tg_params *params);

/**
 * Whether a literal's truthiness is known: 1 truthy, 0 falsy, -1 not a
 * literal (True, False, None, numbers, strings, empty containers).
 */
int tg_argsel_truth(const struct tg_pyfile *py, TSNode value);

/** Whether the call `call` selects `guard` (NULL: always). */
bool tg_argsel_selects(const struct tg_pyfile *py, TSNode call,
		       const char *guard);

/**
 * The parameter a guard tests: its name (borrowed from `guard`, *len
 * bytes); *negate when the guard holds for a falsy value.
 */
const char *tg_argsel_guard_param(const char *guard, size_t *len,
				  bool *negate);

/** Whether `guard` holds for a call that passes no arguments. */
bool tg_argsel_by_default(const char *guard);

#endif
