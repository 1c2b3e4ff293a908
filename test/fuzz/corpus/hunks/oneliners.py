def a(): pass
def b(): pass
class C: pass
