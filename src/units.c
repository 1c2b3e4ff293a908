#include "txguard/common.h"
#include "txguard/analyze_rule.h"
#include "txguard/error.h"
#include "txguard/buf.h"
#include "txguard/diff.h"
#include "txguard/node.h"
#include "txguard/pyparse.h"
#include "txguard/units.h"

#include <tree_sitter/api.h>

/*
 * One frame per enclosing class or function while walking: its qualified
 * name prefix and whether it is a function (then children get
 * ".<locals>.", as Python's __qualname__ does).
 */
struct frame {
	char *qualname;
	bool is_function;
	long unit; /* unit index for a function, -1 for a class */
};

struct walk {
	struct frame *frames;
	size_t nframes, alloc_frames;
	TSPoint *decorated; /* starts of enclosing decorated_definitions */
	size_t ndecorated, alloc_decorated;
	struct tg_skeleton *skel; /* being recorded; NULL if not */
	uint32_t *open;           /* skeleton indexes of the nodes entered */
	size_t nopen, alloc_open;
};

static uint32_t skel_add(struct tg_skeleton *sk, TSNode node)
{
	TG_ALLOC_GROW(sk->v, sk->nr + 1, sk->alloc);
	sk->v[sk->nr].node = node;
	sk->v[sk->nr].end = (uint32_t)sk->nr + 1;
	return (uint32_t)sk->nr++;
}

/* An expression statement: record it if it holds an assignment. */
static void skel_statement(struct tg_skeleton *sk, TSTreeCursor *c,
			   TSNode stmt)
{
	size_t at = sk->nr;

	if (!ts_tree_cursor_goto_first_child(c))
		return;
	do {
		TSNode n = ts_tree_cursor_current_node(c);

		if ((tg_pyparse_kind(ts_node_symbol(n)) & TG_PK_MASK) !=
		    TG_PK_ASSIGNMENT)
			continue;
		if (sk->nr == at)
			skel_add(sk, stmt);
		skel_add(sk, n);
	} while (ts_tree_cursor_goto_next_sibling(c));
	ts_tree_cursor_goto_parent(c);
	if (sk->nr > at)
		sk->v[at].end = (uint32_t)sk->nr;
}

static uint32_t end_line_of(TSNode node)
{
	TSPoint s = ts_node_start_point(node), e = ts_node_end_point(node);

	/* a node that ends just after a newline ends on the line before */
	if (e.column == 0 && e.row > s.row)
		return e.row;
	return e.row + 1;
}

static char *qualname_for(const struct walk *w, const struct tg_pyfile *py,
			  TSNode node)
{
	TSNode name = tg_node_child(node, TG_F_NAME);
	struct tg_buf b = TG_BUF_INIT;

	if (w->nframes) {
		const struct frame *top = &w->frames[w->nframes - 1];

		tg_buf_addstr(&b, top->qualname);
		tg_buf_addstr(&b, top->is_function ? ".<locals>." : ".");
	}
	if (ts_node_is_null(name))
		tg_buf_addch(&b, '?');
	else
		tg_buf_add(&b, py->src + ts_node_start_byte(name),
			   ts_node_end_byte(name) - ts_node_start_byte(name));
	return tg_buf_detach(&b, NULL);
}

static void add_import(struct tg_units *u, size_t unit, char *local,
		       char *target)
{
	struct tg_local_import *im;

	TG_ALLOC_GROW(u->imports, u->nimports + 1, u->alloc_imports);
	im = &u->imports[u->nimports++];
	im->unit = unit;
	im->local = local;
	im->target = target;
}

/* The node's text without blanks (`from . import  x`, `a . b`). */
static char *squeezed(const struct tg_pyfile *py, TSNode n)
{
	size_t len;
	const char *s = tg_node_text(py, n, &len);
	char *out = tg_xmalloc(len + 1), *o = out;

	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\\' &&
		    s[i] != '\n' && s[i] != '\r')
			*o++ = s[i];
	*o = '\0';
	return out;
}

/*
 * `import a.b`, `import a.b as x`, `from m import n as x`, `from . import
 * n` inside function unit `unit`: what each binds. A star import binds
 * nothing we can name.
 */
static void local_imports(struct tg_units *u, size_t unit,
			  const struct tg_pyfile *py, TSNode n)
{
	TSNode mod = tg_node_child(n, TG_F_MODULE_NAME);
	char *base = ts_node_is_null(mod) ? NULL : squeezed(py, mod);
	uint32_t cnt = ts_node_named_child_count(n);

	for (uint32_t i = 0; i < cnt; i++) {
		TSNode k = ts_node_named_child(n, i), name, alias = { 0 };
		char *nm, *dot;

		if (ts_node_eq(k, mod))
			continue;
		if (tg_node_is(k, TG_PK_ALIASED_IMPORT)) {
			name = tg_node_child(k, TG_F_NAME);
			alias = tg_node_child(k, TG_F_ALIAS);
		} else if (tg_node_is(k, TG_PK_DOTTED_NAME)) {
			name = k;
		} else {
			continue;
		}
		if (ts_node_is_null(name))
			continue;
		nm = squeezed(py, name);
		if (base) {
			size_t bl = strlen(base);

			add_import(u, unit,
				   ts_node_is_null(alias) ?
					   tg_xstrdup(nm) :
					   squeezed(py, alias),
				   tg_xasprintf("%s%s%s", base,
						bl && base[bl - 1] != '.' ?
							"." : "",
						nm));
		} else if (!ts_node_is_null(alias)) {
			add_import(u, unit, squeezed(py, alias),
				   tg_xstrdup(nm));
		} else {
			/* `import a.b.c` binds `a` to the package a */
			dot = strchr(nm, '.');
			add_import(u, unit,
				   dot ? tg_xstrndup(nm, (size_t)(dot - nm)) :
					 tg_xstrdup(nm),
				   dot ? tg_xstrndup(nm, (size_t)(dot - nm)) :
					 tg_xstrdup(nm));
		}
		free(nm);
	}
	free(base);
}

/* Returns whether to walk the node's children. */
static bool enter(struct tg_units *u, struct walk *w,
		  const struct tg_pyfile *py, TSTreeCursor *c)
{
	TSNode node = ts_tree_cursor_current_node(c);
	unsigned kind = tg_pyparse_kind(ts_node_symbol(node));
	bool decorated;
	struct frame *f;

	if (w->skel && (kind & TG_PK_MASK) == TG_PK_EXPR_STMT)
		skel_statement(w->skel, c, node);
	/* an import in a function's own body (a class's binds in the class) */
	if (((kind & TG_PK_MASK) == TG_PK_IMPORT ||
	     (kind & TG_PK_MASK) == TG_PK_IMPORT_FROM) &&
	    w->nframes && w->frames[w->nframes - 1].is_function)
		local_imports(u, (size_t)w->frames[w->nframes - 1].unit, py,
			      node);
	/* a simple statement holds expressions only, never a def */
	if (kind & TG_PK_SIMPLE)
		return false;
	/*
	 * Nor does any node that cannot hold a statement (the walk
	 * keeps to blocks and compound statements), unless the tree has
	 * errors: an ERROR node can hold a def anywhere.
	 */
	if (!(kind & TG_PK_HOLDS) && !py->has_errors)
		return false;
	if (w->skel) {
		TG_ALLOC_GROW(w->open, w->nopen + 1, w->alloc_open);
		w->open[w->nopen++] = skel_add(w->skel, node);
	}
	kind &= TG_PK_MASK;
	if (kind == TG_PK_DECORATED) {
		TG_ALLOC_GROW(w->decorated, w->ndecorated + 1,
			      w->alloc_decorated);
		w->decorated[w->ndecorated++] = ts_node_start_point(node);
		return true;
	}
	if (kind != TG_PK_FUNCTION && kind != TG_PK_CLASS)
		return true;
	decorated = tg_node_field_is(ts_tree_cursor_current_field_id(c),
				     TG_F_DEFINITION) &&
		    w->ndecorated;

	TG_ALLOC_GROW(w->frames, w->nframes + 1, w->alloc_frames);
	f = &w->frames[w->nframes];
	f->qualname = qualname_for(w, py, node);
	f->is_function = kind == TG_PK_FUNCTION;
	f->unit = -1;
	if (f->is_function) {
		struct tg_unit *unit;
		long parent = 0;

		/* The parent is the innermost enclosing function */
		for (size_t i = w->nframes; i-- > 0;)
			if (w->frames[i].is_function) {
				parent = w->frames[i].unit;
				break;
			}
		TG_ALLOC_GROW(u->v, u->nr + 1, u->alloc);
		unit = &u->v[u->nr];
		memset(unit, 0, sizeof(*unit));
		unit->qualname = tg_xstrdup(f->qualname);
		unit->start_line =
			(decorated ? w->decorated[w->ndecorated - 1].row :
				     ts_node_start_point(node).row) + 1;
		unit->def_line = ts_node_start_point(node).row + 1;
		unit->end_line = end_line_of(node);
		unit->start_byte = ts_node_start_byte(node);
		unit->end_byte = ts_node_end_byte(node);
		unit->parent = (int)parent;
		unit->imports_from = u->nimports;
		f->unit = (long)u->nr++;
	}
	w->nframes++;
	return true;
}

static void leave(struct tg_units *u, struct walk *w, TSNode node)
{
	unsigned raw = tg_pyparse_kind(ts_node_symbol(node));
	unsigned kind = raw & TG_PK_MASK;
	struct frame *f;

	if (w->skel && (raw & TG_PK_HOLDS) && w->nopen)
		w->skel->v[w->open[--w->nopen]].end = (uint32_t)w->skel->nr;

	if (kind == TG_PK_DECORATED) {
		if (w->ndecorated)
			w->ndecorated--;
		return;
	}
	if ((kind != TG_PK_FUNCTION && kind != TG_PK_CLASS) || !w->nframes)
		return;
	f = &w->frames[--w->nframes];
	if (f->unit >= 0)
		u->v[f->unit].next = u->nr;
	free(f->qualname);
}

int tg_units_load(struct tg_units *out, const struct tg_pyfile *py)
{
	struct walk w = { 0 };
	struct tg_unit *mod;
	TSTreeCursor c;

	memset(out, 0, sizeof(*out));
	TG_ALLOC_GROW(out->v, 1, out->alloc);
	mod = &out->v[0];
	memset(mod, 0, sizeof(*mod));
	mod->qualname = tg_xstrdup("<module>");
	mod->start_line = 1;
	mod->end_line = (uint32_t)py->nlines;
	mod->end_byte = (uint32_t)py->len;
	mod->parent = -1;
	out->nr = 1;

	if (!py->has_errors) {
		w.skel = tg_xcalloc(1, sizeof(*w.skel));
		w.skel->tree = py->tree;
	}
	/* Iterative, enter/leave events, constant C stack at any depth */
	c = ts_tree_cursor_new(ts_tree_root_node(py->tree));
	for (;;) {
		if (enter(out, &w, py, &c) &&
		    ts_tree_cursor_goto_first_child(&c))
			continue;
		do {
			leave(out, &w, ts_tree_cursor_current_node(&c));
			if (ts_tree_cursor_goto_next_sibling(&c))
				goto next;
		} while (ts_tree_cursor_goto_parent(&c));
		break;
next:;
	}
	ts_tree_cursor_delete(&c);
	out->v[0].next = out->nr;
	while (w.nframes)
		free(w.frames[--w.nframes].qualname);
	free(w.frames);
	free(w.decorated);
	free(w.open);
	out->skel = w.skel;
	return 0;
}

void tg_units_release(struct tg_units *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->nr; i++)
		free(u->v[i].qualname);
	free(u->v);
	for (size_t i = 0; i < u->nimports; i++) {
		free(u->imports[i].local);
		free(u->imports[i].target);
	}
	free(u->imports);
	if (u->skel)
		free(u->skel->v);
	free(u->skel);
	memset(u, 0, sizeof(*u));
}

/*
 * A hunk marks the units whose own lines it touches, and the owner of
 * a line is the innermost unit containing it: one lookup per line keeps
 * this O(lines log units) however many units and hunks there are.
 */
static bool is_ancestor(const struct tg_units *u, long a, long i)
{
	for (i = u->v[i].parent; i >= 0; i = u->v[i].parent)
		if (i == a)
			return true;
	return false;
}

/*
 * The innermost unit at `line`, and every other unit whose own lines can
 * include it: git counts only LF, so with a lone CR two definitions (or
 * the end of one and the start of the next) share a line. Those units
 * start on the line next to the innermost one in pre-order, or end on
 * it just before them; the innermost unit's ancestors never own it.
 * Marking one unit too many only costs analysis; one too few is a silent
 * pass (found by fuzz-hunks).
 */
static void mark_line(struct tg_units *u, uint32_t line)
{
	size_t k = tg_units_at_line(u, line), lo = k, hi = k;

	u->v[k].changed = true;
	while (lo > 1 && u->v[lo - 1].start_line == line)
		lo--;
	while (hi + 1 < u->nr && u->v[hi + 1].start_line == line)
		hi++;
	for (size_t i = lo; i <= hi; i++)
		u->v[i].changed = true;
	for (long i = (long)lo - 1; i > 0; i = u->v[i].parent)
		if (u->v[i].end_line == line && !is_ancestor(u, i, (long)k))
			u->v[i].changed = true;
}

static void mark_range(struct tg_units *u, uint32_t a, uint32_t b)
{
	if (a < 1)
		a = 1;
	if (!u->nr || a > u->v[0].end_line)
		return;
	if (b > u->v[0].end_line)
		b = u->v[0].end_line;
	for (uint32_t line = a; line <= b && line >= a; line++)
		mark_line(u, line);
}

void tg_units_mark_changed(struct tg_units *u, const struct tg_hunk *hunks,
			   size_t nhunks)
{
	for (size_t h = 0; h < nhunks; h++) {
		const struct tg_hunk *hk = &hunks[h];

		if (hk->new_lines) {
			uint32_t a = hk->new_start ? hk->new_start : 1;

			mark_range(u, a, a + hk->new_lines - 1);
			continue;
		}
		/*
		 * A pure deletion happened between new_start and
		 * new_start + 1 (new_start 0: before the first line); both
		 * neighbours count as changed.
		 */
		if (hk->new_start)
			mark_range(u, hk->new_start, hk->new_start);
		mark_range(u, hk->new_start + 1, hk->new_start + 1);
	}
}

void tg_units_mark_all(struct tg_units *u)
{
	for (size_t i = 0; i < u->nr; i++)
		u->v[i].changed = true;
}

size_t tg_units_at_line(const struct tg_units *u, uint32_t line)
{
	size_t lo = 0, hi = u->nr;

	if (!u->nr)
		return 0;
	/*
	 * Units are in source pre-order, so start lines never decrease: take
	 * the last unit starting at or before `line`, then climb to the first
	 * ancestor that still contains it.
	 */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (u->v[mid].start_line <= line)
			lo = mid;
		else
			hi = mid;
	}
	while (lo > 0 && u->v[lo].end_line < line)
		lo = u->v[lo].parent > 0 ? (size_t)u->v[lo].parent : 0;
	return lo;
}

long tg_units_find(const struct tg_units *u, const char *qualname)
{
	for (size_t i = 0; i < u->nr; i++)
		if (!strcmp(u->v[i].qualname, qualname))
			return (long)i;
	return -1;
}

const struct tg_local_import *tg_units_local_import(const struct tg_units *u,
						     size_t unit,
						     const char *name,
						     size_t len)
{
	if (!u || !u->nimports)
		return NULL;
	for (long k = (long)unit; k > 0 && (size_t)k < u->nr;
	     k = u->v[k].parent) {
		/* a function's imports and its nested functions' are in a row */
		size_t next = u->v[k].next;
		size_t end = next < u->nr ? u->v[next].imports_from :
					    u->nimports;

		for (size_t i = end; i-- > u->v[k].imports_from;) {
			const struct tg_local_import *im = &u->imports[i];

			if (im->unit == (size_t)k &&
			    strlen(im->local) == len &&
			    !memcmp(im->local, name, len))
				return im;
		}
	}
	return NULL;
}
