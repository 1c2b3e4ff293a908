/*
 * glob.c: .gitignore-style path globs for the include/exclude keys.
 *
 * The pattern is matched as a set of reachable path positions, one token
 * at a time, so the cost is O(pattern x path) whatever the stars: no
 * backtracking, hence no exponential blow-up on hostile patterns.
 */
#include "txguard/common.h"
#include "txguard/glob.h"

enum tok {
	T_CHAR,  /* one literal byte */
	T_ANY,   /* ?: one byte but '/' */
	T_CLASS, /* [...]: one byte but '/' */
	T_STAR,  /* *: any run without '/' */
	T_DSTAR, /* trailing ** (or **): anything, '/' included */
	T_DDIR,  /* / ** / or leading ** /: zero or more whole directories */
};

/* Does the class starting at p (just after '[') match c? *end receives the
 * position after ']', or NULL when the class is unterminated. */
static bool class_match(const char *p, unsigned char c, const char **end)
{
	bool neg = false, hit = false;
	const char *q = p;

	if (*q == '!' || *q == '^') {
		neg = true;
		q++;
	}
	if (*q == ']') { /* a leading ']' is literal */
		hit |= c == ']';
		q++;
	}
	while (*q && *q != ']') {
		unsigned char lo = (unsigned char)*q, hi;

		if (lo == '\\' && q[1])
			lo = (unsigned char)*++q;
		q++;
		hi = lo;
		if (*q == '-' && q[1] && q[1] != ']') {
			q++;
			if (*q == '\\' && q[1])
				q++;
			hi = (unsigned char)*q++;
		}
		if (c >= lo && c <= hi)
			hit = true;
	}
	if (*q != ']') {
		*end = NULL;
		return false;
	}
	*end = q + 1;
	return hit != neg;
}

/*
 * Advance the set of reachable positions `cur` (over path[0..n]) by one
 * token into `next`.
 */
static void step(bool *next, const bool *cur, const char *path, size_t n,
		 enum tok t, const char *arg)
{
	size_t j;
	bool seen;

	switch (t) {
	case T_CHAR:
		next[0] = false;
		for (j = 1; j <= n; j++)
			next[j] = cur[j - 1] && path[j - 1] == *arg;
		break;
	case T_ANY:
		next[0] = false;
		for (j = 1; j <= n; j++)
			next[j] = cur[j - 1] && path[j - 1] != '/';
		break;
	case T_CLASS:
		next[0] = false;
		for (j = 1; j <= n; j++) {
			const char *end;

			next[j] = cur[j - 1] && path[j - 1] != '/' &&
				  class_match(arg, (unsigned char)path[j - 1], &end);
		}
		break;
	case T_STAR:
		next[0] = cur[0];
		for (j = 1; j <= n; j++)
			next[j] = cur[j] || (next[j - 1] && path[j - 1] != '/');
		break;
	case T_DSTAR:
		next[0] = cur[0];
		for (j = 1; j <= n; j++)
			next[j] = cur[j] || next[j - 1];
		break;
	case T_DDIR:
		/* position j is reachable from any earlier reachable k when
		 * path[k..j) ends in '/' */
		next[0] = cur[0];
		seen = cur[0];
		for (j = 1; j <= n; j++) {
			next[j] = cur[j] || (seen && path[j - 1] == '/');
			seen |= cur[j];
		}
		break;
	}
}

static bool match_full(const char *pat, const char *path)
{
	size_t n = strlen(path);
	bool stackbuf[2][256];
	bool *cur, *next, *heap = NULL, ok;
	const char *p = pat;
	bool at_start = true; /* p is at the start of a component */

	if (n + 1 <= 256) {
		cur = stackbuf[0];
		next = stackbuf[1];
	} else {
		heap = tg_xmalloc(2 * (n + 1) * sizeof(bool));
		cur = heap;
		next = heap + n + 1;
	}
	memset(cur, 0, (n + 1) * sizeof(bool));
	cur[0] = true;

	while (*p) {
		enum tok t = T_CHAR;
		const char *arg = p;
		bool *swap;

		if (p[0] == '*' && p[1] == '*' && at_start &&
		    (p[2] == '/' || p[2] == '\0')) {
			if (p[2] == '/') {
				t = T_DDIR;
				p += 3;
			} else {
				t = T_DSTAR;
				p += 2;
			}
		} else if (*p == '*') {
			t = T_STAR;
			while (*p == '*')
				p++;
		} else if (*p == '?') {
			t = T_ANY;
			p++;
		} else if (*p == '[') {
			const char *end;

			class_match(p + 1, 0, &end);
			if (end) {
				t = T_CLASS;
				arg = p + 1;
				p = end;
			} else {
				p++; /* unterminated: a literal '[' */
			}
		} else if (*p == '\\' && p[1]) {
			arg = p + 1;
			p += 2;
		} else {
			p++;
		}
		at_start = t == T_DDIR || (t == T_CHAR && *arg == '/');
		step(next, cur, path, n, t, arg);
		swap = cur;
		cur = next;
		next = swap;
	}
	ok = cur[n];
	free(heap);
	return ok;
}

bool tg_glob_match(const char *pattern, const char *path)
{
	const char *base;

	if (!pattern || !path)
		return false;
	if (*pattern == '/') /* anchored at the root: same as with a '/' */
		return match_full(pattern + 1, path);
	if (!strchr(pattern, '/')) {
		base = strrchr(path, '/');
		return match_full(pattern, base ? base + 1 : path);
	}
	return match_full(pattern, path);
}

static void add(char ***v, size_t *n, size_t *alloc, const char *s)
{
	TG_ALLOC_GROW(*v, *n + 1, *alloc);
	(*v)[(*n)++] = tg_xstrdup(s);
}

void tg_glob_set_add(struct tg_glob_set *set, bool exclude, const char *pattern)
{
	if (exclude)
		add(&set->exclude, &set->nexclude, &set->alloc_exclude, pattern);
	else
		add(&set->include, &set->ninclude, &set->alloc_include, pattern);
}

bool tg_glob_set_match(const struct tg_glob_set *set, const char *path)
{
	bool in = false;
	size_t i;

	if (!set || !set->ninclude) {
		in = tg_glob_match("*.py", path);
	} else {
		for (i = 0; i < set->ninclude && !in; i++)
			in = tg_glob_match(set->include[i], path);
	}
	if (!in || !set)
		return in;
	for (i = 0; i < set->nexclude; i++)
		if (tg_glob_match(set->exclude[i], path))
			return false;
	return true;
}

void tg_glob_set_release(struct tg_glob_set *set)
{
	size_t i;

	for (i = 0; i < set->ninclude; i++)
		free(set->include[i]);
	for (i = 0; i < set->nexclude; i++)
		free(set->exclude[i]);
	free(set->include);
	free(set->exclude);
	memset(set, 0, sizeof(*set));
}
