import asyncio
import threading
from fastapi import BackgroundTasks


def per_row(rows):
    for r in rows:
        with SessionLocal() as s:  # expect: TX003
            s.add(r)
            s.commit()  # expect: TX003
    while True:
        with get_background_session() as s:  # expect: TX003
            break


async def escape(tasks: BackgroundTasks):
    async with get_background_session() as session:
        tasks.add_task(work, session)  # expect: TX004
        asyncio.create_task(work(session))  # expect: TX004
        asyncio.ensure_future(work(session))  # expect: TX004
        loop.run_in_executor(None, work, session)  # expect: TX004
        executor.submit(work, session)  # expect: TX004
        threading.Thread(target=work, args=(session,)).start()  # expect: TX004
