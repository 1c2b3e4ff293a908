def a(:
    def b(
  def c(): pass
class
def
