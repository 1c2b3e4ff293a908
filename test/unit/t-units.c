/* Units: qualified names, spans, hunk marking, depth. */
#include "txguard/common.h"
#include "txguard/buf.h"
#include "txguard/diff.h"
#include "txguard/error.h"
#include "txguard/pyparse.h"
#include "txguard/units.h"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

static const char sample[] =
	"import x\n"                            /* 1 */
	"\n"                                    /* 2 */
	"class Svc:\n"                          /* 3 */
	"    attr = 1\n"                        /* 4 */
	"\n"                                    /* 5 */
	"    @decorator\n"                      /* 6 */
	"    async def run(self):\n"            /* 7 */
	"        def inner():\n"                /* 8 */
	"            return 1\n"                /* 9 */
	"        return inner\n"                /* 10 */
	"\n"                                    /* 11 */
	"    class Inner:\n"                    /* 12 */
	"        def meth(self):\n"             /* 13 */
	"            pass\n"                    /* 14 */
	"\n"                                    /* 15 */
	"def outer():\n"                        /* 16 */
	"    class Local:\n"                    /* 17 */
	"        def m(self):\n"                /* 18 */
	"            pass\n"                    /* 19 */
	"    return Local\n";                   /* 20 */

struct fixture {
	struct tg_pyfile *py;
	struct tg_units u;
};

static void load(struct fixture *f, const char *src, size_t len)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(tg_pyfile_parse(&f->py, "t.py", src, len), 0);
	assert_int_equal(tg_units_load(&f->u, f->py), 0);
}

static void unload(struct fixture *f)
{
	tg_units_release(&f->u);
	tg_pyfile_free(f->py);
}

static void clear_changed(struct tg_units *u)
{
	for (size_t i = 0; i < u->nr; i++)
		u->v[i].changed = false;
}

static const char *changed_list(struct tg_units *u, struct tg_buf *b)
{
	tg_buf_reset(b);
	for (size_t i = 0; i < u->nr; i++)
		if (u->v[i].changed)
			tg_buf_addf(b, "%s%s", b->len ? " " : "",
				    u->v[i].qualname);
	return b->ptr;
}

static void test_qualnames_and_spans(void **state)
{
	struct fixture f;
	static const struct {
		const char *q;
		uint32_t start, end, def;
		int parent;
	} want[] = {
		{ "<module>", 1, 20, 0, -1 },
		{ "Svc.run", 6, 10, 7, 0 },
		{ "Svc.run.<locals>.inner", 8, 9, 8, 1 },
		{ "Svc.Inner.meth", 13, 14, 13, 0 },
		{ "outer", 16, 20, 16, 0 },
		{ "outer.<locals>.Local.m", 18, 19, 18, 4 },
	};

	(void)state;
	load(&f, sample, sizeof(sample) - 1);
	assert_int_equal(f.u.nr, TG_ARRAY_SIZE(want));
	for (size_t i = 0; i < f.u.nr; i++) {
		assert_string_equal(f.u.v[i].qualname, want[i].q);
		assert_int_equal(f.u.v[i].start_line, want[i].start);
		assert_int_equal(f.u.v[i].end_line, want[i].end);
		assert_int_equal(f.u.v[i].def_line, want[i].def);
		assert_int_equal(f.u.v[i].parent, want[i].parent);
	}
	assert_int_equal(tg_units_at_line(&f.u, 9), 2);
	assert_int_equal(tg_units_at_line(&f.u, 10), 1);
	assert_int_equal(tg_units_at_line(&f.u, 4), 0);
	assert_int_equal(tg_units_at_line(&f.u, 6), 1);
	assert_int_equal(tg_units_find(&f.u, "outer"), 4);
	assert_int_equal(tg_units_find(&f.u, "nope"), -1);
	unload(&f);
}

static void test_mark_changed(void **state)
{
	struct fixture f;
	struct tg_buf b = TG_BUF_INIT;
	struct tg_hunk h;

	(void)state;
	load(&f, sample, sizeof(sample) - 1);

	/* an edit in the outer function's own line, not the nested one */
	h = (struct tg_hunk){ 10, 1, 10, 1 };
	tg_units_mark_changed(&f.u, &h, 1);
	assert_string_equal(changed_list(&f.u, &b), "Svc.run");

	/* a decorator line belongs to its function */
	clear_changed(&f.u);
	h = (struct tg_hunk){ 6, 1, 6, 1 };
	tg_units_mark_changed(&f.u, &h, 1);
	assert_string_equal(changed_list(&f.u, &b), "Svc.run");

	/* a hunk over several units marks each whose own lines it touches */
	clear_changed(&f.u);
	h = (struct tg_hunk){ 8, 9, 8, 9 };
	tg_units_mark_changed(&f.u, &h, 1);
	assert_string_equal(changed_list(&f.u, &b),
			    "<module> Svc.run Svc.run.<locals>.inner "
			    "Svc.Inner.meth outer");

	/* a class attribute is module code */
	clear_changed(&f.u);
	h = (struct tg_hunk){ 4, 1, 4, 1 };
	tg_units_mark_changed(&f.u, &h, 1);
	assert_string_equal(changed_list(&f.u, &b), "<module>");

	/* pure deletion after line 9: both neighbours (inner, run) */
	clear_changed(&f.u);
	h = (struct tg_hunk){ 10, 2, 9, 0 };
	tg_units_mark_changed(&f.u, &h, 1);
	assert_string_equal(changed_list(&f.u, &b),
			    "Svc.run Svc.run.<locals>.inner");

	/* pure deletion before the first line */
	clear_changed(&f.u);
	h = (struct tg_hunk){ 1, 3, 0, 0 };
	tg_units_mark_changed(&f.u, &h, 1);
	assert_string_equal(changed_list(&f.u, &b), "<module>");

	/* pure deletion after the last line */
	clear_changed(&f.u);
	h = (struct tg_hunk){ 21, 3, 20, 0 };
	tg_units_mark_changed(&f.u, &h, 1);
	assert_string_equal(changed_list(&f.u, &b), "outer");

	tg_units_mark_all(&f.u);
	for (size_t i = 0; i < f.u.nr; i++)
		assert_true(f.u.v[i].changed);
	tg_buf_release(&b);
	unload(&f);
}

static void test_odd_bytes(void **state)
{
	static const char crlf[] = "\xef\xbb\xbf"
				   "def a():\r\n\treturn 1\r\n\r\n"
				   "def b():\r\n\treturn 2\r\n";
	struct fixture f;
	struct tg_pyfile *py = NULL;
	const char *line;
	size_t len;

	(void)state;
	load(&f, crlf, sizeof(crlf) - 1);
	assert_false(f.py->has_errors);
	assert_int_equal(f.u.nr, 3);
	assert_string_equal(f.u.v[2].qualname, "b");
	assert_int_equal(f.u.v[2].start_line, 4);
	line = tg_pyfile_line(f.py, 2, &len);
	assert_int_equal(len, 9);
	assert_memory_equal(line, "\treturn 1", 9);
	unload(&f);

	assert_int_equal(tg_pyfile_parse(&py, "bin.py", "a = 1\0", 6),
			 TG_EBINARY);
	assert_null(py);

	load(&f, "", 0);
	assert_int_equal(f.u.nr, 1);
	unload(&f);

	load(&f, "def broken(:\n    pass\ndef ok():\n    pass\n", 39);
	assert_true(f.py->has_errors);
	assert_int_not_equal(tg_units_find(&f.u, "ok"), -1);
	unload(&f);
}

static void test_deep_nesting(void **state)
{
	/*
	 * Indentation nests at most ~100 levels in CPython and a few hundred
	 * in the grammar's scanner; brackets nest without limit.
	 */
	enum { DEPTH = 10000, DEFS = 200 };
	struct tg_buf b = TG_BUF_INIT;
	struct fixture f;
	struct tg_hunk h;

	(void)state;
	/* 10000 nested brackets and 200 nested defs, no recursion */
	tg_buf_addstr(&b, "x = ");
	for (int i = 0; i < DEPTH; i++)
		tg_buf_addch(&b, '[');
	for (int i = 0; i < DEPTH; i++)
		tg_buf_addch(&b, ']');
	tg_buf_addch(&b, '\n');
	for (int i = 0; i < DEFS; i++) {
		for (int j = 0; j < i; j++)
			tg_buf_addch(&b, ' ');
		tg_buf_addf(&b, "def f%d():\n", i);
	}
	for (int j = 0; j < DEFS; j++)
		tg_buf_addch(&b, ' ');
	tg_buf_addstr(&b, "pass\n");
	load(&f, b.ptr, b.len);
	assert_false(f.py->has_errors);
	assert_int_equal(f.u.nr, DEFS + 1);
	assert_int_equal(f.u.v[DEFS].parent, DEFS - 1);
	assert_int_equal(strlen(f.u.v[DEFS].qualname),
			 strlen(f.u.v[DEFS - 1].qualname) +
				 strlen(".<locals>.f199"));
	h = (struct tg_hunk){ DEFS + 2, 1, DEFS + 2, 1 };
	tg_units_mark_changed(&f.u, &h, 1);
	assert_true(f.u.v[DEFS].changed);
	assert_false(f.u.v[DEFS - 1].changed);
	assert_int_equal(tg_units_at_line(&f.u, DEFS + 2), DEFS);
	unload(&f);
	tg_buf_release(&b);
}

/*
 * Lone-CR line endings make one long line for the grammar, whose error
 * recovery is quadratic in it: past a length the file is skipped at
 * once, by its bytes, never after a time. Short ones and CRLF files
 * parse.
 */
static void test_lone_cr_lines(void **state)
{
	static const char unit[] =
		"def f(session):\r    with session.begin():\r"
		"        session.commit()\r";
	struct tg_buf cr = TG_BUF_INIT, crlf = TG_BUF_INIT;
	struct tg_pyfile *py = NULL;

	(void)state;
	assert_int_equal(tg_pyfile_parse(&py, "short.py", unit,
					 strlen(unit)), 0);
	tg_pyfile_free(py);
	py = NULL;
	while (cr.len < 100 << 10) {
		tg_buf_addstr(&cr, unit);
		tg_buf_addstr(&crlf, "def f(session):\r\n    pass\r\n");
	}
	assert_int_equal(tg_pyfile_parse(&py, "cr.py", cr.ptr, cr.len),
			 TG_ETOODEEP);
	assert_null(py);
	assert_non_null(strstr(tg_error_last(), "lone CR"));
	tg_error_clear();
	assert_int_equal(tg_pyfile_parse(&py, "crlf.py", crlf.ptr, crlf.len),
			 0);
	assert_false(py->has_errors);
	tg_pyfile_free(py);
	tg_buf_release(&cr);
	tg_buf_release(&crlf);
}

static const char imports_src[] =
	"from sqlalchemy.orm import Session\n"              /* 1 */
	"def boto():\n"                                     /* 2 */
	"    from aioboto3 import Session as S, Client\n"   /* 3 */
	"    import app.db, json as j\n"                    /* 4 */
	"    from ..db import (\n"                          /* 5 */
	"        get_session)\n"                            /* 6 */
	"    from . import deps\n"                          /* 7 */
	"    def inner():\n"                                /* 8 */
	"        from aioboto3 import Session\n"            /* 9 */
	"    class K:\n"                                    /* 10 */
	"        from os import path\n"                     /* 11 */
	"def other():\n"                                   /* 12 */
	"    pass\n";                                       /* 13 */

static void expect_import(const struct tg_units *u, size_t unit,
			  const char *name, const char *target)
{
	const struct tg_local_import *im =
		tg_units_local_import(u, unit, name, strlen(name));

	if (!target) {
		assert_null(im);
		return;
	}
	assert_non_null(im);
	assert_string_equal(im->target, target);
}

/* Imports inside a function bind for that function and its nested ones. */
static void test_local_imports(void **state)
{
	struct fixture f;
	long boto, inner, other;

	(void)state;
	load(&f, imports_src, sizeof(imports_src) - 1);
	boto = tg_units_find(&f.u, "boto");
	inner = tg_units_find(&f.u, "boto.<locals>.inner");
	other = tg_units_find(&f.u, "other");
	assert_true(boto > 0 && inner > 0 && other > 0);
	assert_int_equal(f.u.nimports, 7);

	expect_import(&f.u, (size_t)boto, "S", "aioboto3.Session");
	expect_import(&f.u, (size_t)boto, "Client", "aioboto3.Client");
	expect_import(&f.u, (size_t)boto, "app", "app");
	expect_import(&f.u, (size_t)boto, "j", "json");
	expect_import(&f.u, (size_t)boto, "get_session", "..db.get_session");
	expect_import(&f.u, (size_t)boto, "deps", ".deps");
	/* the module's import is not a local one; nor is the class's */
	expect_import(&f.u, (size_t)boto, "Session", NULL);
	expect_import(&f.u, (size_t)boto, "path", NULL);
	/* a nested function sees its own and its enclosing function's */
	expect_import(&f.u, (size_t)inner, "Session", "aioboto3.Session");
	expect_import(&f.u, (size_t)inner, "get_session", "..db.get_session");
	expect_import(&f.u, (size_t)other, "get_session", NULL);
	expect_import(&f.u, 0, "S", NULL);
	unload(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qualnames_and_spans),
		cmocka_unit_test(test_mark_changed),
		cmocka_unit_test(test_odd_bytes),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_lone_cr_lines),
		cmocka_unit_test(test_local_imports),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
