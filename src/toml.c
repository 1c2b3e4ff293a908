/*
 * toml.c: TOML documents through the tree-sitter TOML grammar (toml.h).
 * The grammar parses; this file walks the tree, joins table and key
 * paths, and decodes string literals (escapes, multi-line forms).
 */
#include "txguard/common.h"
#include "txguard/buf.h"
#include "txguard/error.h"
#include "txguard/node.h"
#include "txguard/toml.h"

#include <tree_sitter/api.h>

const TSLanguage *tree_sitter_toml(void);

struct walk {
	struct tg_toml *out;
	const char *text;
	const char *name;
};

static char *node_text(const struct walk *w, TSNode n)
{
	uint32_t a = ts_node_start_byte(n), b = ts_node_end_byte(n);

	return tg_xstrndup(w->text + a, b - a);
}

static int line_of(TSNode n)
{
	return (int)ts_node_start_point(n).row + 1;
}

static void add_utf8(struct tg_buf *b, unsigned long c)
{
	if (c < 0x80) {
		tg_buf_addch(b, (int)c);
	} else if (c < 0x800) {
		tg_buf_addch(b, (int)(0xc0 | (c >> 6)));
		tg_buf_addch(b, (int)(0x80 | (c & 0x3f)));
	} else if (c < 0x10000) {
		tg_buf_addch(b, (int)(0xe0 | (c >> 12)));
		tg_buf_addch(b, (int)(0x80 | ((c >> 6) & 0x3f)));
		tg_buf_addch(b, (int)(0x80 | (c & 0x3f)));
	} else {
		tg_buf_addch(b, (int)(0xf0 | (c >> 18)));
		tg_buf_addch(b, (int)(0x80 | ((c >> 12) & 0x3f)));
		tg_buf_addch(b, (int)(0x80 | ((c >> 6) & 0x3f)));
		tg_buf_addch(b, (int)(0x80 | (c & 0x3f)));
	}
}

/*
 * The value of a string or quoted key: the literal without its quotes,
 * a newline right after an opening triple quote dropped, escapes decoded
 * in basic strings, and a line-ending backslash in a multi-line basic
 * string eating the whitespace after it.
 */
static char *decode_string(const struct walk *w, TSNode n)
{
	uint32_t a = ts_node_start_byte(n), e = ts_node_end_byte(n);
	const char *p = w->text + a, *end = w->text + e;
	struct tg_buf b = TG_BUF_INIT;
	bool basic = *p == '"', multi = end - p >= 6 &&
					(!strncmp(p, "\"\"\"", 3) ||
					 !strncmp(p, "'''", 3));
	size_t q = multi ? 3 : 1;

	p += q;
	end -= q;
	if (multi && p < end && *p == '\n')
		p++;
	else if (multi && end - p >= 2 && p[0] == '\r' && p[1] == '\n')
		p += 2;
	while (p < end) {
		if (!basic || *p != '\\') {
			tg_buf_addch(&b, *p++);
			continue;
		}
		p++;
		switch (p < end ? *p : '\0') {
		case 'b': tg_buf_addch(&b, '\b'); p++; break;
		case 't': tg_buf_addch(&b, '\t'); p++; break;
		case 'n': tg_buf_addch(&b, '\n'); p++; break;
		case 'f': tg_buf_addch(&b, '\f'); p++; break;
		case 'r': tg_buf_addch(&b, '\r'); p++; break;
		case '"': tg_buf_addch(&b, '"'); p++; break;
		case '\\': tg_buf_addch(&b, '\\'); p++; break;
		case 'u':
		case 'U': {
			int digits = *p == 'u' ? 4 : 8;
			char hex[9] = { 0 };

			if (end - p > digits) {
				memcpy(hex, p + 1, (size_t)digits);
				add_utf8(&b, strtoul(hex, NULL, 16));
			}
			p += digits + 1;
			break;
		}
		default:
			/* a line-ending backslash: skip to the next non-blank */
			while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' ||
					   *p == '\n'))
				p++;
		}
	}
	return tg_buf_detach(&b, NULL);
}

/* Append the parts of a key node (bare, quoted or dotted) to *key. */
static void key_parts(const struct walk *w, TSNode n, char ***key,
		      size_t *nkey, size_t *alloc)
{
	const char *t = ts_node_type(n);

	if (!strcmp(t, "dotted_key")) {
		for (uint32_t i = 0; i < ts_node_named_child_count(n); i++)
			key_parts(w, ts_node_named_child(n, i), key, nkey, alloc);
		return;
	}
	TG_ALLOC_GROW(*key, *nkey + 1, *alloc);
	(*key)[(*nkey)++] = !strcmp(t, "quoted_key") ? decode_string(w, n) :
						      node_text(w, n);
}

static bool is_key(TSNode n)
{
	const char *t = ts_node_type(n);

	return !strcmp(t, "bare_key") || !strcmp(t, "quoted_key") ||
	       !strcmp(t, "dotted_key");
}

static enum tg_toml_type scalar_type(TSNode n)
{
	const char *t = ts_node_type(n);

	return !strcmp(t, "string") ? TG_TOML_STRING :
	       !strcmp(t, "integer") ? TG_TOML_INTEGER :
	       !strcmp(t, "array") ? TG_TOML_ARRAY :
				     TG_TOML_OTHER;
}

static char *scalar_text(const struct walk *w, TSNode n)
{
	return !strcmp(ts_node_type(n), "string") ? decode_string(w, n) :
						    node_text(w, n);
}

static char **copy_key(char **key, size_t n)
{
	char **out = tg_xcalloc(n ? n : 1, sizeof(*out));

	for (size_t i = 0; i < n; i++)
		out[i] = tg_xstrdup(key[i]);
	return out;
}

static void free_key(char **key, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(key[i]);
	free(key);
}

static void walk_pairs(struct walk *w, TSNode parent, char **prefix,
		       size_t nprefix, bool in_array_table);

/* One pair: its key joined to `prefix`, its value (inline tables walked). */
static void add_pair(struct walk *w, TSNode pair, char **prefix,
		     size_t nprefix, bool in_array_table)
{
	char **key = copy_key(prefix, nprefix);
	size_t nkey = nprefix, alloc = nprefix;
	TSNode value = { 0 };
	struct tg_toml_entry *e;
	bool have_value = false;

	for (uint32_t i = 0; i < ts_node_named_child_count(pair); i++) {
		TSNode c = ts_node_named_child(pair, i);

		if (is_key(c))
			key_parts(w, c, &key, &nkey, &alloc);
		else if (strcmp(ts_node_type(c), "comment")) {
			value = c;
			have_value = true;
		}
	}
	if (!have_value) {
		free_key(key, nkey);
		return;
	}
	if (!strcmp(ts_node_type(value), "inline_table")) {
		walk_pairs(w, value, key, nkey, in_array_table);
		free_key(key, nkey);
		return;
	}
	TG_ALLOC_GROW(w->out->v, w->out->nr + 1, w->out->alloc);
	e = &w->out->v[w->out->nr++];
	memset(e, 0, sizeof(*e));
	e->key = key;
	e->nkey = nkey;
	e->line = line_of(pair);
	e->in_array_table = in_array_table;
	e->type = scalar_type(value);
	if (e->type != TG_TOML_ARRAY) {
		e->values = tg_xcalloc(1, sizeof(*e->values));
		e->value_types = tg_xcalloc(1, sizeof(*e->value_types));
		e->values[0] = scalar_text(w, value);
		e->value_types[0] = e->type;
		e->nvalues = 1;
		return;
	}
	e->values = tg_xcalloc(ts_node_named_child_count(value) + 1,
			       sizeof(*e->values));
	e->value_types = tg_xcalloc(ts_node_named_child_count(value) + 1,
				    sizeof(*e->value_types));
	for (uint32_t i = 0; i < ts_node_named_child_count(value); i++) {
		TSNode c = ts_node_named_child(value, i);
		const char *t = ts_node_type(c);

		if (!strcmp(t, "comment"))
			continue;
		if (!strcmp(t, "array") || !strcmp(t, "inline_table"))
			e->type = TG_TOML_NESTED_ARRAY;
		e->value_types[e->nvalues] = scalar_type(c);
		e->values[e->nvalues++] = scalar_text(w, c);
	}
}

static void walk_pairs(struct walk *w, TSNode parent, char **prefix,
		       size_t nprefix, bool in_array_table)
{
	for (uint32_t i = 0; i < ts_node_named_child_count(parent); i++) {
		TSNode c = ts_node_named_child(parent, i);

		if (!strcmp(ts_node_type(c), "pair"))
			add_pair(w, c, prefix, nprefix, in_array_table);
	}
}

static int check_duplicates(const struct tg_toml *t, const char *name)
{
	for (size_t i = 0; i < t->nr; i++)
		for (size_t j = 0; j < i; j++) {
			const struct tg_toml_entry *a = &t->v[j], *b = &t->v[i];
			bool same = a->nkey == b->nkey && !a->in_array_table &&
				    !b->in_array_table;

			for (size_t k = 0; same && k < a->nkey; k++)
				same = !strcmp(a->key[k], b->key[k]);
			if (same)
				return tg_error_set(TG_EPARSE,
						    "%s:%d: key '%s' is given twice: on line %d and here",
						    name, b->line,
						    b->key[b->nkey - 1], a->line);
		}
	return 0;
}

int tg_toml_parse(struct tg_toml *out, const char *name, const char *text,
		  size_t len)
{
	TSParser *parser = ts_parser_new();
	TSTree *tree = NULL;
	TSNode root, bad;
	struct walk w = { out, text, name };
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (memchr(text, '\0', len))
		err = tg_error_set(TG_EPARSE, "%s: NUL byte: not a text file",
				   name);
	else if (!ts_parser_set_language(parser, tree_sitter_toml()))
		err = tg_error_set(TG_ERROR, "the TOML grammar does not load");
	else if (!(tree = ts_parser_parse_string(parser, NULL, text,
						 (uint32_t)len)))
		err = tg_error_set(TG_EPARSE, "%s: cannot parse", name);
	if (err)
		goto out;
	root = ts_tree_root_node(tree);
	if (tg_node_find_error(root, false, &bad)) {
		err = tg_error_set(TG_EPARSE, "%s:%d:%u: TOML syntax error", name,
				   line_of(bad), ts_node_start_point(bad).column + 1);
		goto out;
	}
	walk_pairs(&w, root, NULL, 0, false);
	for (uint32_t i = 0; i < ts_node_named_child_count(root); i++) {
		TSNode t = ts_node_named_child(root, i);
		const char *type = ts_node_type(t);
		char **key = NULL;
		size_t nkey = 0, alloc = 0;
		bool array = !strcmp(type, "table_array_element");

		if (!array && strcmp(type, "table"))
			continue;
		for (uint32_t k = 0; k < ts_node_named_child_count(t); k++) {
			TSNode c = ts_node_named_child(t, k);

			if (is_key(c)) {
				key_parts(&w, c, &key, &nkey, &alloc);
				break;
			}
		}
		walk_pairs(&w, t, key, nkey, array);
		free_key(key, nkey);
	}
	err = check_duplicates(out, name);
out:
	if (err)
		tg_toml_release(out);
	if (tree)
		ts_tree_delete(tree);
	ts_parser_delete(parser);
	return err;
}

void tg_toml_release(struct tg_toml *t)
{
	for (size_t i = 0; i < t->nr; i++) {
		struct tg_toml_entry *e = &t->v[i];

		free_key(e->key, e->nkey);
		for (size_t k = 0; k < e->nvalues; k++)
			free(e->values[k]);
		free(e->values);
		free(e->value_types);
	}
	free(t->v);
	memset(t, 0, sizeof(*t));
}
