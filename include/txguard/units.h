/**
 * units.h: analysis units.
 *
 * A unit is one function (def / async def, methods and nested functions
 * each their own unit) or the module's top-level code (index 0, qualified
 * name "<module>"). Qualified names are the dotted path of enclosing
 * classes and functions, with "<locals>" after a function as Python's
 * __qualname__ does: "EmailScanner.run", "process.<locals>.inner".
 *
 * A unit's own lines are its span minus the spans of the units nested in
 * it; a hunk marks the units whose own lines it touches. A pure deletion
 * (new_lines == 0) marks the units on both sides of where it happened.
 */
#ifndef TXGUARD_UNITS_H
#define TXGUARD_UNITS_H

#include "txguard/common.h"

struct tg_pyfile;
struct tg_hunk;

struct tg_unit {
	char *qualname;          /* owned */
	uint32_t start_line;     /* first line (decorators included), 1-based */
	uint32_t end_line;       /* last line, inclusive */
	uint32_t def_line;       /* line of the `def` keyword; 0 for the module */
	uint32_t start_byte, end_byte; /* the function_definition node (or whole file) */
	int parent;              /* index of the enclosing unit, -1 for the module */
	size_t imports_from;     /* its first local import (tg_units.imports) */
	size_t next;             /* index just past this unit's nested units */
	bool changed;
};

struct tg_skeleton; /* analyze_rule.h */

/*
 * An import inside a function: it binds `local` for that function (and
 * the functions nested in it) only. `target` is what it names, with a
 * relative import's leading dots kept: "app.db.get_session",
 * "..db.get_session", "aioboto3.Session", "app" for `import app.db`.
 */
struct tg_local_import {
	size_t unit; /* index of the function unit it is in */
	char *local, *target; /* owned */
};

struct tg_units {
	struct tg_unit *v;
	size_t nr, alloc;
	/*
	 * The tree's statements as the unit walk found them, for the
	 * analysis (analyze_rule.h); NULL for a tree with errors.
	 */
	struct tg_skeleton *skel;
	/* imports inside functions, in source order */
	struct tg_local_import *imports;
	size_t nimports, alloc_imports;
};

#define TG_UNITS_INIT { 0 }

/** Find every unit of `py`, iteratively (any nesting depth). */
int tg_units_load(struct tg_units *out, const struct tg_pyfile *py);
void tg_units_release(struct tg_units *u);

/** Mark the units the hunks touch on the new side (see above). */
void tg_units_mark_changed(struct tg_units *u, const struct tg_hunk *hunks,
			   size_t nhunks);
/** Mark every unit changed (scan, added files). */
void tg_units_mark_all(struct tg_units *u);

/** Index of the innermost unit whose span contains `line`. */
size_t tg_units_at_line(const struct tg_units *u, uint32_t line);
/**
 * The import that binds `name` (`len` bytes) inside unit `unit` or a
 * function enclosing it, nearest function first (the last such import
 * of a function wins), or NULL: the name is not bound by a local import.
 */
const struct tg_local_import *tg_units_local_import(const struct tg_units *u,
						     size_t unit,
						     const char *name,
						     size_t len);
/** Index of the unit with this qualified name, or -1. */
long tg_units_find(const struct tg_units *u, const char *qualname);

#endif
