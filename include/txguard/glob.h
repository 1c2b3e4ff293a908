/**
 * glob.h: path globs as in .gitignore-style config values.
 *
 * `*` matches within one path component, `**` any number of components
 * (`app/` + `**`, or `**` + `/test_*.py`), `?` one character, `[...]` a class. A
 * pattern without '/' matches the file's base name (`*.py`).
 */
#ifndef TXGUARD_GLOB_H
#define TXGUARD_GLOB_H

#include "txguard/common.h"

bool tg_glob_match(const char *pattern, const char *path);

/** An include/exclude pair: a path is selected if it matches an include
 * (or there are none, then "*.py") and no exclude. */
struct tg_glob_set {
	char **include;
	size_t ninclude, alloc_include;
	char **exclude;
	size_t nexclude, alloc_exclude;
};

#define TG_GLOB_SET_INIT { 0 }

void tg_glob_set_add(struct tg_glob_set *set, bool exclude, const char *pattern);
bool tg_glob_set_match(const struct tg_glob_set *set, const char *path);
void tg_glob_set_release(struct tg_glob_set *set);

#endif
