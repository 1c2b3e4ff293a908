#include "txguard/common.h"
#include "txguard/rules.h"

#include <strings.h>

/* The rule table; ids are data, looked up with tg_rules_lookup() */
static const struct tg_rule rules[] = {
	{
		"TX001", "double-transaction", TG_SEV_CRITICAL,
		"explicit commit()/rollback() inside a context manager that "
		"already commits or rolls back on exit",
		"TX001 double-transaction (critical)\n"
		"\n"
		"What it catches\n"
		"  An explicit session.commit() or session.rollback() (awaited or\n"
		"  not) inside the body of a `with` / `async with` whose context\n"
		"  manager already owns the transaction: SQLAlchemy's own\n"
		"  `X.begin()` / `X.begin_nested()`, owners named in .txguard\n"
		"  (`owner = get_background_session`), context managers that\n"
		"  commit after their `yield` (or yield inside `X.begin()`), and\n"
		"  the helpers that wrap them, found anywhere in the repository\n"
		"  through the file's imports. Request scope: a parameter whose\n"
		"  default is `Depends(get_db)`, or annotated\n"
		"  `Annotated[AsyncSession, Depends(get_db)]` or an alias of it\n"
		"  (`session: SessionDep`), where get_db is a generator\n"
		"  dependency that owns the transaction, is owned for the whole\n"
		"  function. A helper that owns only when a parameter says so\n"
		"  (`session_context(begin_transaction=True)`) owns where the\n"
		"  call's literal argument, or the default, selects it.\n"
		"  Passing an owned session to a function that commits or rolls\n"
		"  it back (itself, or through what it calls, across modules) is\n"
		"  reported at the call, naming where that function commits.\n"
		"\n"
		"Why it hurts in production\n"
		"  Two parties now end the same transaction. The early commit\n"
		"  ends the unit of work halfway: what follows runs in a fresh\n"
		"  implicit transaction that the manager commits (or rolls back)\n"
		"  later, so a failure after the commit leaves half the work\n"
		"  saved. With begin() blocks SQLAlchemy raises on the second\n"
		"  commit, or the connection is left \"idle in transaction\" while\n"
		"  the manager waits: row locks taken by UPDATEs stay held,\n"
		"  other requests block behind them, and the pool runs dry.\n"
		"  Nothing fails loudly in tests; it shows up as an outage.\n"
		"\n"
		"Wrong\n"
		"  async with get_background_session() as session:\n"
		"      session.add(job)\n"
		"      await session.commit()      # the manager commits on exit\n"
		"\n"
		"  with engine.begin() as conn:\n"
		"      conn.execute(stmt)\n"
		"      conn.commit()               # begin() commits on exit\n"
		"\n"
		"  async def create(payload: dict, session: SessionDep):\n"
		"      session.add(Item(**payload))\n"
		"      await session.commit()      # get_db commits after it\n"
		"\n"
		"  async with get_session() as session:\n"
		"      await items.create(session, item)  # create() commits it\n"
		"\n"
		"Right\n"
		"  async with get_background_session() as session:\n"
		"      session.add(job)            # committed when the block exits\n"
		"\n"
		"  async with async_session_factory() as session:  # only closes\n"
		"      session.add(job)\n"
		"      await session.commit()      # manual control is correct here\n"
		"\n"
		"Fix\n"
		"  Remove the commit: the block commits when it exits. Replace a\n"
		"  rollback with `raise`: an exception leaving the block rolls\n"
		"  back. If you need to commit in the middle, use a manager that\n"
		"  only closes the session and commit explicitly. A function\n"
		"  given a session should only add and flush; if it must also\n"
		"  work alone, give it `commit: bool = True` and pass\n"
		"  `commit=False` from inside owners.\n"
		"\n"
		"Suppress\n"
		"  # txguard: ignore[TX001]   (or # noqa: TX001) on any line of\n"
		"  the statement, or on the `def` line for the whole function.\n",
	},
	{
		"TX002", "unmanaged-session", TG_SEV_HIGH,
		"session created by a factory but never closed, managed or "
		"handed to the caller",
		"TX002 unmanaged-session (high)\n"
		"\n"
		"What it catches\n"
		"  A session bound to a name from a factory call\n"
		"  (`s = SessionLocal()`, `s = async_session_factory()`,\n"
		"  `s = AsyncSession(engine)`, `s = Session(engine)`) that is not\n"
		"  managed by `with` / `async with` (`with s:`, `with s.begin():`,\n"
		"  `with closing(s):`), not closed in a `finally` covering its\n"
		"  use, and not handed on: returned or yielded (also inside a\n"
		"  constructor, `return Repository(s)`), stored on an object\n"
		"  (`self.session = s`) or given to an ExitStack or finalizer.\n"
		"  Factories: SQLAlchemy's Session and AsyncSession (imported from\n"
		"  SQLAlchemy or SQLModel; `requests.Session` or a model class\n"
		"  named Session is not one), names bound to sessionmaker(...) /\n"
		"  async_sessionmaker(...) anywhere in the repository, resolved\n"
		"  through the file's imports, and configured `factory =` names.\n"
		"  Not flagged: scoped_session registries (they hand out the\n"
		"  thread's one session), attributes (`self.session = F()`),\n"
		"  class attributes, and a script's `if __name__ == \"__main__\":`\n"
		"  block.\n"
		"\n"
		"Why it hurts in production\n"
		"  An exception between creation and close leaks the session\n"
		"  and its pooled connection, often \"idle in transaction\" with\n"
		"  locks held, until the garbage collector happens to run. Under\n"
		"  load the pool is exhausted and every request times out.\n"
		"\n"
		"Wrong\n"
		"  session = async_session_factory()\n"
		"  result = await session.execute(stmt)\n"
		"  return result.scalar_one()\n"
		"\n"
		"Right\n"
		"  async with async_session_factory() as session:\n"
		"      result = await session.execute(stmt)\n"
		"      return result.scalar_one()\n"
		"\n"
		"Fix\n"
		"  Use the factory as a context manager, or close the session in\n"
		"  a `finally` that covers every use of it.\n"
		"\n"
		"Suppress\n"
		"  # txguard: ignore[TX002]   (or # noqa: TX002) on the statement\n"
		"  or on the `def` line.\n",
	},
	{
		"TX003", "transaction-per-iteration", TG_SEV_MEDIUM,
		"a transaction or session opened, or a commit, inside a loop",
		"TX003 transaction-per-iteration (medium)\n"
		"\n"
		"What it catches\n"
		"  Inside the body of a `for` or `while` loop of the same\n"
		"  function: opening an owner block (`with X.begin()`, an owner\n"
		"  configured or found in the repository), opening a new session\n"
		"  (a factory call), or calling commit(). One finding per call; a\n"
		"  commit on a session the iteration opened is reported where it\n"
		"  was opened, and one on an owned session is TX001's.\n"
		"  Left alone, because one transaction per iteration is their\n"
		"  design: `while True` service loops, `async for` streams,\n"
		"  polling loops that sleep, retry loops (`for attempt in ...`,\n"
		"  tenacity's Retrying), savepoints (`begin_nested()`, which\n"
		"  commit nothing), and commit(...) with arguments (not\n"
		"  SQLAlchemy's).\n"
		"  Only a session's or a connection's commit() counts: a name\n"
		"  bound from a factory or an owner or closing block, a\n"
		"  Depends() parameter, one annotated Session / AsyncSession /\n"
		"  Connection / AsyncConnection, or a name such as `session`,\n"
		"  `db`, `conn`, `self.db_session`; a Kafka consumer's or a\n"
		"  logging batch's commit() is not one. Nor is a commit every N\n"
		"  rows (`if i % 500 == 0:`), nor a commit or a block the loop\n"
		"  leaves right after (`break`, `return`: a retry).\n"
		"\n"
		"Why it hurts in production\n"
		"  One transaction per row multiplies round trips, fsyncs and\n"
		"  pool checkouts by the size of the batch; a failure halfway\n"
		"  leaves the batch half applied, and a long loop holds a\n"
		"  connection for its whole duration.\n"
		"\n"
		"Wrong\n"
		"  for job_id in job_ids:\n"
		"      async with get_background_session() as session:\n"
		"          await session.execute(update(Job).where(Job.id == job_id))\n"
		"\n"
		"Right\n"
		"  async with get_background_session() as session:\n"
		"      await session.execute(update(Job).where(Job.id.in_(job_ids)))\n"
		"\n"
		"Fix\n"
		"  Open one transaction around the loop, or batch the statement.\n"
		"  If each item must commit on its own on purpose, suppress.\n"
		"\n"
		"Suppress\n"
		"  # txguard: ignore[TX003]   (or # noqa: TX003).\n",
	},
	{
		"TX004", "session-escape", TG_SEV_MEDIUM,
		"a scoped session passed to work that outlives its scope",
		"TX004 session-escape (medium)\n"
		"\n"
		"What it catches\n"
		"  A session bound by an owner block, by a `with factory() as s`\n"
		"  block that closes it, or by request scope (a Depends()\n"
		"  parameter, or one annotated Session / AsyncSession from a\n"
		"  dependency that only closes) passed into work that outlives\n"
		"  that scope: BackgroundTasks.add_task, Starlette's\n"
		"  BackgroundTask, asyncio.create_task / ensure_future,\n"
		"  loop.create_task, loop.run_in_executor, asyncio.to_thread,\n"
		"  executor.submit, threading.Thread / Timer,\n"
		"  multiprocessing.Process. Passing counts when an argument is\n"
		"  the session, contains it (`refresh(session, id)`,\n"
		"  `partial(f, session)`, a lambda) or is one of its methods\n"
		"  (`session.refresh`); a value read from it (`session.info`,\n"
		"  `id(session)`) does not. An awaited create_task() and a task\n"
		"  group opened inside the block finish before it closes.\n"
		"  Passing the session to a function that hands that parameter\n"
		"  to such work (itself, or through what it calls) is reported\n"
		"  at the call.\n"
		"\n"
		"Why it hurts in production\n"
		"  The task runs after the block has committed and closed the\n"
		"  session: it uses a closed session, or one shared with the next\n"
		"  request, from another task or thread. Sessions are not\n"
		"  thread- or task-safe: expect random errors and lost writes.\n"
		"\n"
		"Wrong\n"
		"  async with get_background_session() as session:\n"
		"      asyncio.create_task(refresh(session, job_id))\n"
		"\n"
		"  async def reindex(item_id: int, tasks: BackgroundTasks,\n"
		"                    session: SessionDep):\n"
		"      tasks.add_task(reindex_item, session, item_id)\n"
		"\n"
		"Right\n"
		"  asyncio.create_task(refresh(job_id))  # opens its own session\n"
		"\n"
		"  tasks.add_task(reindex_item, item_id)  # likewise\n"
		"\n"
		"Fix\n"
		"  Pass ids, not sessions; let the background work open its own\n"
		"  session (`async with async_session_factory() as session:`).\n"
		"\n"
		"Suppress\n"
		"  # txguard: ignore[TX004]   (or # noqa: TX004).\n",
	},
};

const struct tg_rule *tg_rules_lookup(const char *id)
{
	if (!id)
		return NULL;
	for (size_t i = 0; i < TG_ARRAY_SIZE(rules); i++)
		if (!strcasecmp(rules[i].id, id))
			return &rules[i];
	return NULL;
}

const struct tg_rule *tg_rules_all(size_t *n)
{
	*n = TG_ARRAY_SIZE(rules);
	return rules;
}

const char *tg_severity_name(enum tg_severity s)
{
	switch (s) {
	case TG_SEV_LOW:
		return "low";
	case TG_SEV_MEDIUM:
		return "medium";
	case TG_SEV_HIGH:
		return "high";
	case TG_SEV_CRITICAL:
		return "critical";
	case TG_SEV_NEVER:
		return "never";
	}
	return "unknown";
}

int tg_severity_parse(const char *s)
{
	static const char *names[] = { "low", "medium", "high", "critical",
				       "never" };

	if (!s)
		return -1;
	for (size_t i = 0; i < TG_ARRAY_SIZE(names); i++)
		if (!strcasecmp(names[i], s))
			return (int)(TG_SEV_LOW + i);
	return -1;
}
