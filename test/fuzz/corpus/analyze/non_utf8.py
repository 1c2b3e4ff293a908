def Ã©tÃ©():
    with get_background_session() as s:
        s.commit()  # ÿş bad utf-8
        x = b"ÿ"

def ÿ():
    pass
