def a():
    with get_background_session() as s:
        s.commit()  # txguard: ignore[TX001]
        s.commit()  # noqa: TX001
        s.commit(  # txguard: ignore[TX001, TX003]
        )
        x = "# txguard: ignore[TX001]"; s.commit()  # expect: TX001
        s.commit()  # txguard: ignore


def b():  # txguard: ignore[TX001]
    """# noqa: TX001"""
    with get_background_session() as s:
        s.commit()
