import os


@decorator
@other(
    arg,
)
def top(a):
    x = 1

    def inner():
        def innermost(): pass
        return innermost
    class K:
        def method(self):
            return 1

        @property
        def prop(self): return 2
    return inner


class Outer:
    class Inner:
        async def deep(self):
            lambda: 0
            def f(): pass; return 3
    x = 5


def last(): return 0
