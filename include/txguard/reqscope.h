/**
 * reqscope.h: request scope, FastAPI's Depends.
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
 * Called on entering the function definition `fn`: pushes its
 * request-scoped parameters.
 */
void tg_reqscope_enter(struct tg_actx *cx, TSNode fn);

#endif
