/**
 * reqscope.h: request scope, FastAPI's Depends, and sessions injected
 * by decorators.
 */
#ifndef TXGUARD_REQSCOPE_H
#define TXGUARD_REQSCOPE_H

#include "txguard/common.h"
#include "txguard/analyze_rule.h"

/**
 * Request scope: a parameter whose default is Depends(P), or whose
 * annotation is Annotated[..., Depends(P)] or an alias of one
 * (`session: SessionDep`), is a session owned for the whole function
 * when P is an owning generator dependency (or a configured owner).
 * When P only closes, a parameter annotated Session / AsyncSession (or
 * an alias named like a session) is still request-scoped: not owned,
 * but it must not escape into background work (TX004).
 *
 * A decorator whose wrapper opens an owning block and passes the
 * session to the function (`@with_session`, resolver.h's
 * tg_resolver_decorator()) makes the parameter receiving it, by keyword
 * name or position, owned for the whole function too.
 *
 * Called on entering the function definition `fn`: pushes its
 * request-scoped and injected parameters.
 */
void tg_reqscope_enter(struct tg_actx *cx, TSNode fn);

#endif
