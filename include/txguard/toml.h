/**
 * toml.h: a TOML document (pyproject.toml) as a flat list of key/value
 * entries, parsed by the tree-sitter TOML grammar (pinned in
 * grammar-toml.lock, compiled in like the Python one).
 *
 * Every value is kept as text: strings decoded (escapes, multi-line
 * forms), integers, floats, booleans and dates as written, arrays as
 * their elements. Inline tables are flattened into dotted keys. Tables
 * in arrays ([[x]]) are kept as entries with `in_array_table` set, so a
 * reader can refuse them where they make no sense.
 */
#ifndef TXGUARD_TOML_H
#define TXGUARD_TOML_H

#include "txguard/common.h"

enum tg_toml_type {
	TG_TOML_STRING,
	TG_TOML_INTEGER,
	TG_TOML_OTHER, /* float, boolean, date or time */
	TG_TOML_ARRAY, /* `values` are its elements (strings, integers...) */
	TG_TOML_NESTED_ARRAY, /* an array holding arrays or tables */
};

struct tg_toml_entry {
	char **key; /* key path: ["tool", "txguard", "failOn"] */
	size_t nkey;
	enum tg_toml_type type;
	char **values; /* one for a scalar, the elements of an array */
	enum tg_toml_type *value_types;
	size_t nvalues;
	int line; /* 1-based, of the key */
	bool in_array_table;
};

struct tg_toml {
	struct tg_toml_entry *v;
	size_t nr, alloc;
};

#define TG_TOML_INIT { 0 }

/**
 * Parse `len` bytes of `text`. A syntax error returns TG_EPARSE with
 * "NAME:LINE: ..." (NAME is `name`); a duplicate key (TOML forbids
 * them) likewise, naming both lines.
 */
int tg_toml_parse(struct tg_toml *out, const char *name, const char *text,
		  size_t len);
void tg_toml_release(struct tg_toml *t);

#endif
