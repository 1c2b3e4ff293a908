#include "txguard/common.h"
#include "txguard/analyze.h"
#include "txguard/finding.h"
#include "txguard/node.h"
#include "txguard/pyparse.h"
#include "txguard/rules.h"
#include "txguard/suppress.h"
#include "txguard/units.h"

#include <ctype.h>
#include <strings.h>
#include <tree_sitter/api.h>

struct directive {
	uint32_t line;
	bool all;
	char ids[8][8]; /* upper-cased rule ids */
	size_t nids;
	char *text;
	bool used;
};

struct directives {
	struct directive *v;
	size_t nr, alloc;
};

static bool word_start(const char *text, const char *p)
{
	return p == text || p[-1] == '#' || p[-1] == ' ' || p[-1] == '\t' ||
	       p[-1] == ';';
}

static const char *skip_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* Read codes like TX001 separated by commas or spaces, up to `stop`. */
static const char *read_ids(struct directive *d, const char *p,
			    const char *end, char stop, bool only_rules)
{
	while (p < end && *p != stop) {
		const char *s;
		char id[8];
		size_t n;

		if (*p == ',' || *p == ' ' || *p == '\t') {
			p++;
			continue;
		}
		s = p;
		while (p < end && isalpha((unsigned char)*p))
			p++;
		if (p == s)
			break;
		while (p < end && isdigit((unsigned char)*p))
			p++;
		n = (size_t)(p - s);
		if (n >= sizeof(id) || (p < end && isalnum((unsigned char)*p)))
			break;
		for (size_t i = 0; i < n; i++)
			id[i] = (char)toupper((unsigned char)s[i]);
		id[n] = '\0';
		if (only_rules && !tg_rules_lookup(id))
			continue;
		if (d->nids < TG_ARRAY_SIZE(d->ids))
			memcpy(d->ids[d->nids++], id, n + 1);
	}
	return p;
}

static bool parse_txguard(struct directive *d, const char *text,
			  const char *end)
{
	for (const char *p = text; p + 7 <= end; p++) {
		const char *q, *start = p;

		if (strncasecmp(p, "txguard", 7) || !word_start(text, p))
			continue;
		q = skip_space(p + 7, end);
		if (q >= end || *q != ':')
			continue;
		q = skip_space(q + 1, end);
		if (end - q < 6 || strncasecmp(q, "ignore", 6))
			continue;
		q += 6;
		if (q < end && (isalnum((unsigned char)*q) || *q == '_'))
			continue;
		q = skip_space(q, end);
		if (q < end && *q == '[') {
			/* a malformed list suppresses nothing (and is reported) */
			q = read_ids(d, q + 1, end, ']', false);
			if (q < end && *q == ']')
				q++;
		} else {
			d->all = true;
		}
		d->text = tg_xstrndup(start, (size_t)(q - start));
		return true;
	}
	return false;
}

static bool parse_noqa(struct directive *d, const char *text,
		       const char *end)
{
	for (const char *p = text; p + 4 <= end; p++) {
		const char *q, *start = p;

		if (strncasecmp(p, "noqa", 4) || !word_start(text, p))
			continue;
		q = skip_space(p + 4, end);
		/* a bare noqa is not ours: see suppress.h */
		if (q >= end || *q != ':')
			return false;
		q = read_ids(d, q + 1, end, '#', true);
		if (!d->nids)
			return false;
		d->text = tg_xstrndup(start, (size_t)(q - start));
		while (d->text[0] && strchr(" \t", d->text[strlen(d->text) - 1]))
			d->text[strlen(d->text) - 1] = '\0';
		return true;
	}
	return false;
}

static void add_comment(struct directives *ds, const struct tg_pyfile *py,
			TSNode node, bool noqa)
{
	const char *text = py->src + ts_node_start_byte(node);
	const char *end = py->src + ts_node_end_byte(node);
	struct directive d;

	memset(&d, 0, sizeof(d));
	d.line = ts_node_start_point(node).row + 1;
	if (noqa ? parse_noqa(&d, text, end) : parse_txguard(&d, text, end)) {
		TG_ALLOC_GROW(ds->v, ds->nr + 1, ds->alloc);
		ds->v[ds->nr++] = d;
	}
}

/* The first `word` (`n` lower-case letters) in [p, end), any case, or NULL. */
static const char *find_word(const char *p, const char *end,
			     const char *word, size_t n)
{
	for (; p + n <= end; p++)
		if (tolower((unsigned char)*p) == *word &&
		    !strncasecmp(p, word, n))
			return p;
	return NULL;
}

static void scan_for(struct directives *ds, const struct tg_pyfile *py,
		     const char *word, bool noqa)
{
	TSNode root = ts_tree_root_node(py->tree);
	const char *p = py->src, *end = py->src + py->len, *hash;
	size_t wlen = strlen(word);
	uint32_t last_comment = UINT32_MAX;

	/*
	 * Most files have no directive: find the words at memory speed and
	 * ask the tree only about those places. Only a real comment node
	 * counts, never a string or docstring. A comment runs from a `#` to
	 * the end of its line, so only the rest of a line after a `#` is
	 * searched.
	 */
	while (p < end && (hash = memchr(p, '#', (size_t)(end - p)))) {
		const char *eol = memchr(hash, '\n', (size_t)(end - hash));

		if (!eol)
			eol = end;
		p = hash;
		while ((p = find_word(p, eol, word, wlen))) {
			uint32_t off = (uint32_t)(p - py->src);
			TSNode n = ts_node_descendant_for_byte_range(root, off,
								     off);

			p += wlen;
			if (!tg_node_is(n, TG_PK_COMMENT) ||
			    ts_node_start_byte(n) == last_comment)
				continue;
			last_comment = ts_node_start_byte(n);
			add_comment(ds, py, n, noqa);
			p = py->src + ts_node_end_byte(n);
		}
		p = eol;
	}
}

static int cmp_directive(const void *a_, const void *b_)
{
	const struct directive *a = a_, *b = b_;

	return a->line < b->line ? -1 : a->line > b->line;
}

static void collect(struct directives *ds, const struct tg_pyfile *py)
{
	scan_for(ds, py, "txguard", false);
	scan_for(ds, py, "noqa", true);
	if (ds->nr > 1)
		qsort(ds->v, ds->nr, sizeof(*ds->v), cmp_directive);
}

/*
 * Is an unused directive worth a notice? Yes unless it names only rules
 * that exist but do not run yet; a malformed or unknown id always is.
 */
static bool can_be_used(const struct directive *d)
{
	if (d->all || !d->nids)
		return true;
	for (size_t i = 0; i < d->nids; i++)
		if (tg_analyze_implements(d->ids[i]) ||
		    !tg_rules_lookup(d->ids[i]))
			return true;
	return false;
}

static bool names_rule(const struct directive *d, const char *id)
{
	if (d->all)
		return true;
	for (size_t i = 0; i < d->nids; i++)
		if (!strcasecmp(d->ids[i], id))
			return true;
	return false;
}

static uint32_t byte_at(const struct tg_pyfile *py, uint32_t line,
			uint32_t col)
{
	size_t off;

	if (!line || line > py->nlines)
		return (uint32_t)py->len;
	off = py->line_start[line - 1] + (col ? col - 1 : 0);
	return (uint32_t)(off > py->len ? py->len : off);
}

/*
 * The lines of the statement holding the finding's node. In the
 * header of a compound statement (`if s.commit():`) only the node's own
 * lines count, not the whole block.
 */
static void statement_lines(uint32_t *a, uint32_t *b,
			    const struct tg_pyfile *py,
			    const struct tg_finding *f)
{
	TSNode root = ts_tree_root_node(py->tree);
	TSNode n = ts_node_descendant_for_byte_range(
		root, byte_at(py, f->line, f->column),
		byte_at(py, f->end_line, f->end_column));

	*a = f->line;
	*b = f->end_line;
	for (; !ts_node_is_null(n); n = ts_node_parent(n)) {
		unsigned kind = tg_pyparse_kind(ts_node_symbol(n));
		TSPoint e;

		if (!(kind & (TG_PK_SIMPLE | TG_PK_COMPOUND)))
			continue;
		if (kind & TG_PK_COMPOUND)
			return;
		*a = ts_node_start_point(n).row + 1;
		e = ts_node_end_point(n);
		*b = e.column == 0 && e.row + 1 > *a ? e.row : e.row + 1;
		return;
	}
}

/* The lines of unit u's `def` header: def_line to the line before its body. */
static void header_lines(uint32_t *a, uint32_t *b, const struct tg_pyfile *py,
			 const struct tg_unit *u)
{
	TSNode n = ts_node_descendant_for_byte_range(
		ts_tree_root_node(py->tree), u->start_byte, u->end_byte);
	TSNode body;

	*a = *b = u->def_line;
	while (!ts_node_is_null(n) &&
	       !tg_node_is(n, TG_PK_FUNCTION))
		n = ts_node_parent(n);
	if (ts_node_is_null(n))
		return;
	body = tg_node_child(n, TG_F_BODY);
	if (!ts_node_is_null(body) && ts_node_start_point(body).row + 1 > *a)
		*b = ts_node_start_point(body).row;
}

static bool covers(struct directives *ds, uint32_t a, uint32_t b,
		   const char *id)
{
	size_t lo = 0, hi = ds->nr;
	bool hit = false;

	/* directives are sorted by line: start at the first one >= a */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ds->v[mid].line < a)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < ds->nr && ds->v[i].line <= b; i++) {
		struct directive *d = &ds->v[i];

		if (!names_rule(d, id))
			continue;
		d->used = true;
		hit = true;
	}
	return hit;
}

int tg_suppress_apply(struct tg_findings *list, size_t from,
		      const struct tg_pyfile *py, const struct tg_units *units,
		      struct tg_suppressions *unused)
{
	struct directives ds = { 0 };
	int n = 0;

	if (!py->tree)
		return 0;
	collect(&ds, py);
	if (!ds.nr)
		return 0;
	for (size_t i = from; i < list->nr; i++) {
		struct tg_finding *f = &list->v[i];
		const char *id = f->rule ? f->rule->id : "";
		bool hit;
		uint32_t a, b;
		long u;

		statement_lines(&a, &b, py, f);
		hit = covers(&ds, a, b, id);
		/* a directive on a def header covers that function and all it nests */
		u = units ? (long)tg_units_at_line(units, f->line) : -1;
		for (; u > 0; u = units->v[u].parent) {
			header_lines(&a, &b, py, &units->v[u]);
			hit |= covers(&ds, a, b, id);
		}
		if (hit && f->status != TG_STATUS_SUPPRESSED) {
			f->status = TG_STATUS_SUPPRESSED;
			n++;
		}
	}
	for (size_t i = 0; i < ds.nr; i++) {
		struct directive *d = &ds.v[i];

		if (unused && !d->used && can_be_used(d) &&
		    (!units ||
		     units->v[tg_units_at_line(units, d->line)].changed)) {
			struct tg_suppression *s;

			TG_ALLOC_GROW(unused->v, unused->nr + 1,
				      unused->alloc);
			s = &unused->v[unused->nr++];
			s->path = tg_xstrdup(py->path);
			s->line = d->line;
			s->text = d->text;
			d->text = NULL;
		}
		free(d->text);
	}
	free(ds.v);
	return n;
}

void tg_suppressions_release(struct tg_suppressions *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nr; i++) {
		free(s->v[i].path);
		free(s->v[i].text);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}
