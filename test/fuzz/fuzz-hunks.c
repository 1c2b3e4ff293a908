/*
 * fuzz-hunks: the hunk-to-unit mapping on arbitrary Python and
 * arbitrary hunks, checked against a brute-force model.
 *
 * Input layout:
 *   byte 0        number of hunks (mod 17)
 *   4 per hunk    new_start (16 bits, little endian), new_lines,
 *                 old_lines (low 7 bits; the top bit puts new_start at
 *                 the end of the uint32 range, to probe overflow)
 *   rest          the Python source (the new side)
 *
 * Invariants, each a BUG() when broken: unit 0 is the module and spans
 * the file; every unit sits inside its parent, after it, with `next`
 * bounding its nested units; siblings share at most a line; a unit is changed
 * exactly when a hunk (or, for a pure deletion, a line next to it)
 * touches one of its own lines; tg_units_at_line() names the innermost
 * unit.
 */
#include "txguard/common.h"
#include "txguard/diff.h"
#include "txguard/error.h"
#include "txguard/pyparse.h"
#include "txguard/units.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HUNKS 16

static void check(bool ok, const char *what, size_t unit)
{
	if (!ok)
		BUG("fuzz-hunks invariant broken at unit %zu: %s", unit, what);
}

static void check_structure(const struct tg_units *u,
			    const struct tg_pyfile *py)
{
	const struct tg_unit *mod = &u->v[0];

	check(u->nr >= 1, "the module unit exists", 0);
	check(mod->parent == -1 && !strcmp(mod->qualname, "<module>"),
	      "unit 0 is <module>", 0);
	check(mod->start_line == 1 && mod->end_line == py->nlines,
	      "the module spans the file", 0);
	check(mod->next == u->nr, "every unit is nested in the module", 0);
	for (size_t i = 1; i < u->nr; i++) {
		const struct tg_unit *v = &u->v[i];
		const struct tg_unit *p;

		check(v->qualname && *v->qualname, "a qualified name", i);
		check(v->parent >= 0 && (size_t)v->parent < i,
		      "the parent comes first", i);
		p = &u->v[v->parent];
		check(v->start_line >= 1 && v->start_line <= v->end_line,
		      "a non-empty span", i);
		check(v->start_line <= v->def_line &&
			      v->def_line <= v->end_line,
		      "the def line inside the span", i);
		check(p->start_line <= v->start_line &&
			      v->end_line <= p->end_line,
		      "inside the parent's span", i);
		check(v->start_byte <= v->end_byte && v->end_byte <= py->len,
		      "byte span inside the file", i);
		check(v->next > i && v->next <= u->nr && v->next <= p->next,
		      "next bounds the nested units", i);
		/*
		 * Preorder: the units in (i, next) descend from i (each
		 * one's parent is i or a later unit), the one at next
		 * does not.
		 */
		for (size_t j = i + 1; j < v->next; j++)
			check(u->v[j].parent >= (int)i,
			      "next is past the descendants only", i);
		if (v->next < u->nr)
			check(u->v[v->next].parent < (int)i,
			      "next is just past the descendants", i);
		/* the next sibling starts on or after this one's last line */
		if (v->next < u->nr && u->v[v->next].parent == v->parent)
			check(u->v[v->next].start_line >= v->end_line,
			      "siblings do not overlap", i);
	}
}

/*
 * The own lines of unit i: its span minus its direct children's spans,
 * as a flag per line of the span. Children may share a boundary line
 * with each other (several defs on one line, as lone CRs produce: git
 * and tree-sitter count only LF), so a line can be own to several units.
 */
static bool *own_lines(const struct tg_units *u, size_t i)
{
	const struct tg_unit *v = &u->v[i];
	size_t n = (size_t)v->end_line - v->start_line + 1;
	bool *own = tg_xmalloc(n * sizeof(*own));

	for (size_t k = 0; k < n; k++)
		own[k] = true;
	for (size_t j = i + 1; j < v->next; j = u->v[j].next)
		for (uint32_t l = u->v[j].start_line; l <= u->v[j].end_line;
		     l++)
			own[l - v->start_line] = false;
	return own;
}

static bool touches(const struct tg_unit *v, const bool *own, uint64_t a,
		    uint64_t b)
{
	if (a < v->start_line)
		a = v->start_line;
	if (b > v->end_line)
		b = v->end_line;
	for (uint64_t l = a; l <= b; l++)
		if (own[l - v->start_line])
			return true;
	return false;
}

/* The model: does a hunk touch the own lines of v? */
static bool model_changed(const struct tg_unit *v, const bool *own,
			  const struct tg_hunk *hunks, size_t nh)
{
	for (size_t h = 0; h < nh; h++) {
		uint64_t s = hunks[h].new_start, n = hunks[h].new_lines;

		if (n) {
			if (!s)
				s = 1;
			if (touches(v, own, s, s + n - 1))
				return true;
			continue;
		}
		/* a pure deletion: both neighbouring lines */
		if (s && touches(v, own, s, s))
			return true;
		if (touches(v, own, s + 1, s + 1))
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tg_hunk hunks[MAX_HUNKS];
	struct tg_pyfile *py = NULL;
	struct tg_units u = TG_UNITS_INIT;
	size_t nh = 0;
	uint32_t maxl = 0;
	bool *expect = NULL;

	if (size) {
		nh = data[0] % (MAX_HUNKS + 1);
		data++;
		size--;
	}
	if (size < nh * 4)
		nh = size / 4;
	for (size_t h = 0; h < nh; h++, data += 4, size -= 4) {
		hunks[h].new_start = data[0] | (uint32_t)data[1] << 8;
		hunks[h].new_lines = data[2];
		hunks[h].old_lines = data[3] & 0x7f;
		hunks[h].old_start = hunks[h].new_start;
		if (data[3] & 0x80)
			hunks[h].new_start = UINT32_MAX - data[0];
	}

	if (tg_pyfile_parse(&py, "fuzz.py", (const char *)data, size) < 0)
		goto out; /* binary: nothing to map */
	if (tg_units_load(&u, py) < 0)
		BUG("tg_units_load failed: %s", tg_error_last());
	check_structure(&u, py);
	for (size_t i = 0; i < u.nr; i++) {
		check(!u.v[i].changed, "nothing changed before marking", i);
		if (u.v[i].end_line > maxl)
			maxl = u.v[i].end_line;
	}

	/* tg_units_at_line: a unit containing the line, none of whose
	 * nested units does */
	for (uint32_t l = 1; l <= maxl; l++) {
		size_t r = tg_units_at_line(&u, l);

		check(r < u.nr, "tg_units_at_line in range", r);
		if (l > u.v[0].end_line)
			continue;
		check(u.v[r].start_line <= l && l <= u.v[r].end_line,
		      "tg_units_at_line contains the line", r);
		for (size_t j = r + 1; j < u.v[r].next; j = u.v[j].next)
			check(l < u.v[j].start_line || l > u.v[j].end_line,
			      "tg_units_at_line finds the innermost unit", r);
	}

	expect = tg_xcalloc(u.nr, sizeof(*expect));
	for (size_t i = 0; i < u.nr; i++) {
		bool *own = own_lines(&u, i);

		expect[i] = model_changed(&u.v[i], own, hunks, nh);
		free(own);
	}
	tg_units_mark_changed(&u, hunks, nh);
	for (size_t i = 0; i < u.nr; i++) {
		if (u.v[i].changed && !expect[i])
			BUG("unit %zu (%s, lines %u-%u) changed, but no hunk "
			    "touches its own lines",
			    i, u.v[i].qualname, u.v[i].start_line,
			    u.v[i].end_line);
		if (!u.v[i].changed && expect[i])
			BUG("unit %zu (%s, lines %u-%u) unchanged, but a hunk "
			    "touches its own lines",
			    i, u.v[i].qualname, u.v[i].start_line,
			    u.v[i].end_line);
	}
	/* marking again, and marking nothing, change nothing */
	tg_units_mark_changed(&u, hunks, nh);
	tg_units_mark_changed(&u, NULL, 0);
	for (size_t i = 0; i < u.nr; i++)
		check(u.v[i].changed == expect[i], "marking is idempotent", i);
	tg_units_mark_all(&u);
	for (size_t i = 0; i < u.nr; i++)
		check(u.v[i].changed, "mark_all marks every unit", i);
out:
	free(expect);
	tg_units_release(&u);
	tg_pyfile_free(py);
	tg_error_clear();
	return 0;
}
