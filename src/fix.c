/*
 * Removing redundant transaction calls: which TX001 sites can go without
 * changing what the program does, and the minimal edit that removes them.
 *
 * A site is proven from the syntax tree alone, conservatively:
 *
 * - a `X.commit()` statement that is the last statement executed in the
 *   owner's block on every path that reaches it (the last statement of
 *   the block, or of an if/elif/else arm of an `if` that is itself last,
 *   at every level up to the block) is safe: the owner commits right
 *   after it. The same with statements after it is unsafe: they would
 *   then run in the same transaction.
 * - a `X.rollback()` statement followed by a bare `raise`, in an except
 *   handler whose exception then leaves the owner's block (no loop, no
 *   other try or with statement in between, no finally) is safe: the
 *   owner rolls back when the exception leaves it.
 *
 * Anything else (a loop, a try or with statement in between, a savepoint,
 * a statement sharing its line, a call that is not the session's own)
 * is not fixed, with the reason.
 */
#include "txguard/common.h"
#include "txguard/buf.h"
#include "txguard/error.h"
#include "txguard/fingerprint.h"
#include "txguard/finding.h"
#include "txguard/fix.h"
#include "txguard/node.h"
#include "txguard/pyparse.h"

static const char why_middle[] =
	"statements after it would run in the same transaction, committed only "
	"when the block exits, and a failure among them would roll back the "
	"work before it too";

static bool type_is(TSNode n, const char *type)
{
	return !ts_node_is_null(n) && !strcmp(ts_node_type(n), type);
}

/* The next sibling statement of `n`, comments skipped; null at the end. */
static TSNode next_statement(TSNode n)
{
	do
		n = ts_node_next_named_sibling(n);
	while (!ts_node_is_null(n) && tg_node_is(n, TG_PK_COMMENT));
	return n;
}

/* Named children but comments: a block's statements, a call's arguments. */
static unsigned count_statements(TSNode block)
{
	unsigned n = 0, nc = ts_node_named_child_count(block);

	for (unsigned i = 0; i < nc; i++)
		n += !tg_node_is(ts_node_named_child(block, i), TG_PK_COMMENT);
	return n;
}

/* The call the finding points at: a call node starting at its position. */
static TSNode call_at(const struct tg_pyfile *py, const struct tg_finding *f)
{
	TSNode n, none = {0};
	uint32_t start, end;

	if (!f->line || f->line > py->nlines || !f->end_line ||
	    f->end_line > py->nlines)
		return none;
	start = py->line_start[f->line - 1] + f->column - 1;
	end = py->line_start[f->end_line - 1] + f->end_column - 1;
	if (start >= end || end > py->len)
		return none;
	n = ts_node_descendant_for_byte_range(ts_tree_root_node(py->tree),
					      start, end);
	while (!ts_node_is_null(n) &&
	       !(tg_node_is(n, TG_PK_CALL) && ts_node_start_byte(n) == start))
		n = ts_node_parent(n);
	return n;
}

/* `X.commit()` or `X.rollback()` with no arguments: 1, 0; else -1. */
static int session_call(const struct tg_pyfile *py, TSNode call)
{
	TSNode fn = tg_node_child(call, TG_F_FUNCTION);
	TSNode args = tg_node_child(call, TG_F_ARGUMENTS);
	TSNode attr = tg_node_child(fn, TG_F_ATTRIBUTE);
	const char *a;
	size_t len;

	if (!tg_node_is(fn, TG_PK_ATTRIBUTE) || ts_node_is_null(attr) ||
	    !tg_node_is(args, TG_PK_ARGUMENT_LIST) || count_statements(args))
		return -1;
	a = tg_node_text(py, attr, &len);
	if (tg_node_text_is(a, len, "commit"))
		return 1;
	if (tg_node_text_is(a, len, "rollback"))
		return 0;
	return -1;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\f';
}

/*
 * The statement alone on its lines: only indentation before it, nothing
 * but blanks or a comment after it, and no backslash continuing the line
 * before. Sets the bytes of its whole lines.
 */
static bool own_lines(const struct tg_pyfile *py, TSNode stmt,
		      struct tg_fix *fx)
{
	const char *s = py->src;
	size_t b = ts_node_start_byte(stmt), e = ts_node_end_byte(stmt);
	size_t ls = b, le = e;

	while (ls > 0 && s[ls - 1] != '\n' && s[ls - 1] != '\r')
		ls--;
	for (size_t i = ls; i < b; i++)
		if (!blank(s[i]))
			return false;
	if (ls >= 2 && s[ls - 1] == '\n' && s[ls - 2] == '\\')
		return false;
	if (ls >= 3 && s[ls - 1] == '\n' && s[ls - 2] == '\r' &&
	    s[ls - 3] == '\\')
		return false;
	while (le < py->len && blank(s[le]))
		le++;
	if (le < py->len && s[le] == '#')
		while (le < py->len && s[le] != '\n' && s[le] != '\r')
			le++;
	if (le < py->len && s[le] == '\r' && le + 1 < py->len &&
	    s[le + 1] == '\n')
		le += 2;
	else if (le < py->len && s[le] == '\n')
		le++;
	else if (le < py->len)
		return false; /* a `;`, a lone CR, another statement */
	/* no lone CR inside: tree-sitter and Python split lines there */
	for (size_t i = ls; i < le; i++)
		if (s[i] == '\r' && (i + 1 >= le || s[i + 1] != '\n'))
			return false;
	fx->start = ls;
	fx->end = le;
	fx->indent = b - ls;
	fx->line = ts_node_start_point(stmt).row + 1;
	fx->last_line = ts_node_end_point(stmt).row + 1;
	return true;
}

/*
 * From the statement `n` up to the owner's block (starting at byte
 * `body`): whether it is last at every level (*last), and NULL when only
 * blocks and if/elif/else arms are in between, else why not.
 */
static const char *climb(TSNode n, uint32_t body, bool *last)
{
	*last = true;
	for (;;) {
		TSNode block = ts_node_parent(n), up;

		if (!type_is(block, "block"))
			return "the statement is not in a block of the owner";
		if (!ts_node_is_null(next_statement(n)))
			*last = false;
		if (ts_node_start_byte(block) == body)
			return NULL;
		if (ts_node_start_byte(block) < body)
			return "the owner's block could not be found";
		up = ts_node_parent(block);
		if (type_is(up, "elif_clause") || type_is(up, "else_clause")) {
			if (!tg_node_is(ts_node_parent(up), TG_PK_IF))
				return tg_node_is(ts_node_parent(up), TG_PK_TRY)
					       ? "the call is inside a try "
						 "statement"
					       : "the call is inside a loop";
			up = ts_node_parent(up);
		}
		switch (tg_node_kind(up)) {
		case TG_PK_IF:
			n = up;
			continue;
		case TG_PK_FOR:
		case TG_PK_WHILE:
			return "the call is inside a loop";
		case TG_PK_TRY:
		case TG_PK_EXCEPT:
		case TG_PK_EXCEPT_GROUP:
		case TG_PK_FINALLY:
			return "the call is inside a try statement";
		case TG_PK_WITH:
			return "the call is inside another with block, whose "
			       "exit runs between the call and the owner's";
		default:
			return "the call is inside a statement the fix does "
			       "not reason about";
		}
	}
}

/*
 * Whether the owner's exit is the first to run after its block: a
 * function (request scope), or a with statement whose last item is the
 * owner (items exit in reverse order).
 */
static bool owner_exits_first(const struct tg_pyfile *py, uint32_t body,
			      const char *owner_text)
{
	TSNode b = ts_node_descendant_for_byte_range(
		ts_tree_root_node(py->tree), body, body);
	TSNode clause = { 0 }, item, value;
	const char *t;
	size_t len;
	char *norm;
	bool same;

	while (!ts_node_is_null(b) &&
	       !(type_is(b, "block") && ts_node_start_byte(b) == body))
		b = ts_node_parent(b);
	b = ts_node_parent(b);
	if (!tg_node_is(b, TG_PK_WITH))
		return true; /* a function: request scope */
	for (uint32_t i = 0; i < ts_node_named_child_count(b); i++)
		if (tg_node_is(ts_node_named_child(b, i), TG_PK_WITH_CLAUSE))
			clause = ts_node_named_child(b, i);
	if (ts_node_is_null(clause) || !ts_node_named_child_count(clause))
		return false;
	if (ts_node_named_child_count(clause) == 1)
		return true;
	item = ts_node_named_child(clause,
				   ts_node_named_child_count(clause) - 1);
	value = tg_node_child(item, TG_F_VALUE);
	if (tg_node_is(value, TG_PK_AS_PATTERN))
		value = ts_node_named_child(value, 0);
	value = tg_node_unparen(value);
	if (ts_node_is_null(value) || !owner_text)
		return false;
	t = tg_node_text(py, value, &len);
	norm = tg_fingerprint_normalize(t, len);
	same = !strcmp(norm, owner_text);
	free(norm);
	return same;
}

/* A rollback followed by a bare raise whose exception leaves the owner. */
static const char *rollback_site(TSNode stmt, uint32_t body)
{
	TSNode next = next_statement(stmt), block = ts_node_parent(stmt);
	TSNode handler = ts_node_parent(block), try, n;
	bool last;
	const char *why;

	if (!type_is(next, "raise_statement") ||
	    ts_node_named_child_count(next))
		return "only a rollback() followed by a bare `raise` is "
		       "removed: without it the block would commit";
	if (!tg_node_is(handler, TG_PK_EXCEPT) ||
	    !tg_node_is((try = ts_node_parent(handler)), TG_PK_TRY))
		return "the rollback is not in an except handler";
	for (uint32_t i = 0; i < ts_node_named_child_count(try); i++)
		if (tg_node_is(ts_node_named_child(try, i), TG_PK_FINALLY))
			return "a finally clause runs between the rollback and "
			       "the owner's exit";
	n = try;
	why = climb(n, body, &last);
	return why;
}

static int plan_one(struct tg_fix *fx, const struct tg_pyfile *py,
		    const struct tg_finding *f)
{
	TSNode call = call_at(py, f), stmt, block;
	int kind;
	bool last;
	const char *why;

	fx->safety = TG_FIX_NOT_FIXED;
	fx->line = f->line;
	if (ts_node_is_null(call) || (kind = session_call(py, call)) < 0) {
		fx->why = "the commit is in the function called, which other "
			  "callers may rely on: change that function, or pass "
			  "its switch (`commit=False`) if it has one";
		return 0;
	}
	switch (f->fix_owner) {
	case TG_FIX_OWNER_NONE:
		fx->why = "what owns the transaction here is not known well "
			  "enough";
		return 0;
	case TG_FIX_OWNER_SAVEPOINT:
		fx->why = "inside a savepoint the call acts on the outer "
			  "transaction: removing it changes what is committed";
		return 0;
	default:
		break;
	}
	stmt = ts_node_parent(call);
	if (tg_node_is(stmt, TG_PK_AWAIT))
		stmt = ts_node_parent(stmt);
	if (!tg_node_is(stmt, TG_PK_EXPR_STMT) ||
	    ts_node_named_child_count(stmt) != 1) {
		fx->why = "the call is part of a larger statement";
		return 0;
	}
	if (!own_lines(py, stmt, fx)) {
		fx->why = "the statement shares its line with other code";
		return 0;
	}
	block = ts_node_parent(stmt);
	fx->block = ts_node_start_byte(block);
	fx->block_statements = count_statements(block);
	if (!owner_exits_first(py, f->fix_body_start, f->owner_text)) {
		fx->why = "the with statement has context managers after the owner, whose exits run between the call and the owner's";
		return 0;
	}
	if (!kind) {
		if ((why = rollback_site(stmt, f->fix_body_start))) {
			fx->why = why;
			return 0;
		}
		fx->safety = TG_FIX_SAFE;
		return 0;
	}
	if ((why = climb(stmt, f->fix_body_start, &last))) {
		fx->why = why;
		return 0;
	}
	fx->safety = last ? TG_FIX_SAFE : TG_FIX_UNSAFE;
	fx->why = last ? NULL : why_middle;
	return 0;
}

int tg_fix_plan(struct tg_fix_plan *plan, const char *path, const char *src,
		size_t len, const struct tg_findings *found)
{
	struct tg_pyfile *py = NULL;
	int err;

	if ((err = tg_pyfile_parse(&py, path, src, len)) < 0)
		return err;
	plan->syntax_error = py->has_errors;
	for (size_t i = 0; i < found->nr; i++) {
		const struct tg_finding *f = &found->v[i];
		struct tg_fix *fx;

		if (strcmp(f->rule->id, "TX001") ||
		    f->status == TG_STATUS_SUPPRESSED || strcmp(f->path, path))
			continue;
		TG_ALLOC_GROW(plan->v, plan->nr + 1, plan->alloc);
		fx = &plan->v[plan->nr++];
		memset(fx, 0, sizeof(*fx));
		fx->finding = i;
		if (py->has_errors) {
			fx->safety = TG_FIX_NOT_FIXED;
			fx->line = f->line;
			fx->why = "the file has syntax errors";
			continue;
		}
		plan_one(fx, py, f);
	}
	tg_pyfile_free(py);
	return 0;
}

static bool chosen(const struct tg_fix *fx, bool unsafe)
{
	return fx->safety == TG_FIX_SAFE ||
	       (unsafe && fx->safety == TG_FIX_UNSAFE);
}

static int cmp_start(const void *a_, const void *b_)
{
	const struct tg_fix *a = *(const struct tg_fix *const *)a_;
	const struct tg_fix *b = *(const struct tg_fix *const *)b_;

	return a->start < b->start ? -1 : a->start > b->start;
}

/* The applied fixes in source order (an array the caller frees). */
static struct tg_fix **in_order(const struct tg_fix_plan *plan, size_t *n)
{
	struct tg_fix **v = tg_xcalloc(plan->nr + 1, sizeof(*v));

	*n = 0;
	for (size_t i = 0; i < plan->nr; i++)
		if (plan->v[i].applied)
			v[(*n)++] = &plan->v[i];
	qsort(v, *n, sizeof(*v), cmp_start);
	return v;
}

/* The line end of the removed lines ("\r\n", "\n" or none at the end). */
static const char *eol_of(const char *src, const struct tg_fix *fx)
{
	if (fx->end >= fx->start + 2 && src[fx->end - 2] == '\r' &&
	    src[fx->end - 1] == '\n')
		return "\r\n";
	if (fx->end > fx->start && src[fx->end - 1] == '\n')
		return "\n";
	return "";
}

static void replacement(struct tg_buf *out, const char *src,
			const struct tg_fix *fx)
{
	if (!fx->pass)
		return;
	tg_buf_add(out, src + fx->start, fx->indent);
	tg_buf_addstr(out, "pass");
	tg_buf_addstr(out, eol_of(src, fx));
}

size_t tg_fix_apply(struct tg_buf *out, const char *src, size_t len,
		    struct tg_fix_plan *plan, bool unsafe)
{
	struct tg_fix **v;
	size_t n, at = 0;

	for (size_t i = 0; i < plan->nr; i++) {
		plan->v[i].applied = chosen(&plan->v[i], unsafe);
		plan->v[i].pass = false;
	}
	v = in_order(plan, &n);
	/* a block whose every statement goes keeps a `pass` (its last) */
	for (size_t i = 0; i < n; i++) {
		unsigned same = 0;
		size_t lastk = i;

		for (size_t k = 0; k < n; k++)
			if (v[k]->block == v[i]->block) {
				same++;
				lastk = k;
			}
		if (same >= v[i]->block_statements && lastk == i)
			v[i]->pass = true;
	}
	for (size_t i = 0; i < n; i++) {
		tg_buf_add(out, src + at, v[i]->start - at);
		replacement(out, src, v[i]);
		at = v[i]->end;
	}
	tg_buf_add(out, src + at, len - at);
	free(v);
	return n;
}

/* Line starts of `src` (0-based line i starts at st[i]); *n lines. */
static size_t *line_starts(const char *src, size_t len, size_t *n)
{
	size_t *st = NULL, alloc = 0;

	*n = 0;
	for (size_t i = 0; i < len; i++) {
		if (i == 0 || src[i - 1] == '\n') {
			TG_ALLOC_GROW(st, *n + 2, alloc);
			st[(*n)++] = i;
		}
	}
	TG_ALLOC_GROW(st, *n + 2, alloc);
	st[*n] = len;
	return st;
}

static void diff_line(struct tg_buf *out, char mark, const char *s, size_t n)
{
	tg_buf_addch(out, mark);
	tg_buf_add(out, s, n);
	if (!n || s[n - 1] != '\n')
		tg_buf_addstr(out, "\n\\ No newline at end of file\n");
}

void tg_fix_diff(struct tg_buf *out, const char *path, const char *src,
		 size_t len, const struct tg_fix_plan *plan)
{
	size_t nfix, nlines, i = 0;
	struct tg_fix **v = in_order(plan, &nfix);
	size_t *st = line_starts(src, len, &nlines);
	long delta = 0;

	if (!nfix)
		goto out;
	tg_buf_addf(out, "--- a/%s\n+++ b/%s\n", path, path);
	while (i < nfix) {
		/* one hunk: fixes whose contexts touch, 3 lines each side */
		size_t j = i, first = v[i]->line - 1, last, from, to;
		size_t old_n, new_n = 0;
		struct tg_buf body = TG_BUF_INIT;
		size_t l;

		while (j + 1 < nfix &&
		       v[j + 1]->line - 1 <= v[j]->last_line + 6)
			j++;
		last = v[j]->last_line - 1;
		from = first >= 3 ? first - 3 : 0;
		to = last + 3 < nlines ? last + 3 : nlines - 1;
		old_n = to - from + 1;
		l = from;
		for (size_t k = i; k <= j; k++) {
			for (; l < v[k]->line - 1; l++, new_n++)
				diff_line(&body, ' ', src + st[l],
					  st[l + 1] - st[l]);
			for (; l <= v[k]->last_line - 1; l++)
				diff_line(&body, '-', src + st[l],
					  st[l + 1] - st[l]);
			if (v[k]->pass) {
				struct tg_buf p = TG_BUF_INIT;

				replacement(&p, src, v[k]);
				diff_line(&body, '+', p.ptr, p.len);
				tg_buf_release(&p);
				new_n++;
			}
		}
		for (; l <= to; l++, new_n++)
			diff_line(&body, ' ', src + st[l], st[l + 1] - st[l]);
		tg_buf_addf(out, "@@ -%zu,%zu +%ld,%zu @@\n", from + 1, old_n,
			    (long)from + 1 + delta - (new_n ? 0 : 1), new_n);
		tg_buf_add(out, body.ptr, body.len);
		tg_buf_release(&body);
		delta += (long)new_n - (long)old_n;
		i = j + 1;
	}
out:
	free(st);
	free(v);
}

void tg_fix_plan_release(struct tg_fix_plan *plan)
{
	free(plan->v);
	memset(plan, 0, sizeof(*plan));
}
