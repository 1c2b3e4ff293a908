def broken(:
    with get_background_session() as s
        s.commit(
    class X
        def m(self) -> :
            async with get_background_session() as t:
                await t.commit()  # expect: TX001
print("unterminated
def after():
    with session.begin():
        session.commit()  # expect: TX001
    if x:
  return ]]
