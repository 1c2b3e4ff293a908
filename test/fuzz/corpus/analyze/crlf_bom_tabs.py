def a():
	with get_background_session() as s:
		s.commit()  # expect: TX001

def b():
    with session.begin():        session.commit()
