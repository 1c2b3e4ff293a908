/*
 * config.c: `.txguard` and the txguard.* keys of git config.
 *
 * Layers, lowest first: `.txguard` at the working tree's root, then the
 * XDG and global git config files, then the repository's own config.
 * Single-valued keys take the highest layer's value (the last one within
 * a file); include, exclude, owner and factory accumulate.
 *
 * libgit2 parses the files (its syntax errors name the line); libgit2
 * 1.5's git_config_entry carries no line number, so the lines of keys we
 * reject are found by a small scan of the file text (find_lines).
 */
#include "txguard/common.h"
#include "txguard/config.h"
#include "txguard/error.h"
#include "txguard/repo.h"
#include "txguard/toml.h"

#include <ctype.h>
#include <strings.h>
#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#define DEFAULT_MAX_FILE_SIZE ((size_t)8 << 20)

static struct tg_file_class *get_class(struct tg_config *cfg, const char *name,
				       size_t len)
{
	struct tg_file_class *c;

	for (size_t i = 0; i < cfg->nclasses; i++)
		if (strlen(cfg->classes[i].name) == len &&
		    !strncmp(cfg->classes[i].name, name, len))
			return &cfg->classes[i];
	TG_ALLOC_GROW(cfg->classes, cfg->nclasses + 1, cfg->alloc_classes);
	c = &cfg->classes[cfg->nclasses++];
	memset(c, 0, sizeof(*c));
	c->name = tg_xstrndup(name, len);
	c->fail_on = TG_SEV_NEVER;
	return c;
}

static void class_add_path(struct tg_file_class *c, const char *pattern)
{
	TG_ALLOC_GROW(c->paths, c->npaths + 1, c->alloc_paths);
	c->paths[c->npaths++] = tg_xstrdup(pattern);
}

/* tests report, do not block, by default */
static void add_default_test_class(struct tg_config *cfg)
{
	static const char *const paths[] = {
		"tests/**", "test/**", "**/test_*.py", "**/*_test.py",
		"**/conftest.py",
	};
	struct tg_file_class *c = get_class(cfg, "test", 4);

	for (size_t i = 0; i < TG_ARRAY_SIZE(paths); i++)
		class_add_path(c, paths[i]);
}

int tg_config_rule_severity(const struct tg_config *cfg,
			    const struct tg_rule *rule)
{
	size_t n;
	const struct tg_rule *all = tg_rules_all(&n);
	size_t i = (size_t)(rule - all);

	if (cfg && i < n && i < TG_RULE_SLOTS && cfg->rule_severity[i])
		return cfg->rule_severity[i];
	return (int)rule->severity;
}

enum tg_severity tg_config_fail_on_for(const struct tg_config *cfg,
				       const char *path,
				       enum tg_severity global)
{
	const struct tg_file_class *c;

	if (!cfg || global == TG_SEV_NEVER)
		return global;
	c = tg_config_class_for(cfg, path);
	return c ? c->fail_on : global;
}

/* May the baseline live at `path`: relative, without a ".." component? */
static bool baseline_path_ok(const char *path)
{
	const char *p = path;

	if (!*p || *p == '/')
		return false;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (len == 2 && p[0] == '.' && p[1] == '.')
			return false;
		p += len;
		while (*p == '/')
			p++;
	}
	return true;
}

const struct tg_file_class *tg_config_class_for(const struct tg_config *cfg,
						const char *path)
{
	for (size_t i = 0; cfg && i < cfg->nclasses; i++)
		for (size_t j = 0; j < cfg->classes[i].npaths; j++)
			if (tg_glob_match(cfg->classes[i].paths[j], path))
				return &cfg->classes[i];
	return NULL;
}

void tg_config_init(struct tg_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->fail_on = TG_SEV_HIGH;
	cfg->baseline = tg_xstrdup(".txguard-baseline");
	cfg->max_file_size = DEFAULT_MAX_FILE_SIZE;
	cfg->file = ".txguard";
	add_default_test_class(cfg);
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void tg_config_release(struct tg_config *cfg)
{
	free(cfg->baseline);
	free(cfg->fail_on_origin);
	free(cfg->notice);
	tg_glob_set_release(&cfg->files);
	free_list(cfg->owners, cfg->nowners);
	free_list(cfg->factories, cfg->nfactories);
	for (size_t i = 0; i < cfg->nclasses; i++) {
		free(cfg->classes[i].name);
		free_list(cfg->classes[i].paths, cfg->classes[i].npaths);
	}
	free(cfg->classes);
	memset(cfg, 0, sizeof(*cfg));
}

int tg_config_parse_size(size_t *out, const char *s)
{
	unsigned long long v = 0, mul = 1;
	const char *p = s;

	if (!s || !isdigit((unsigned char)*p))
		return -1;
	while (isdigit((unsigned char)*p)) {
		unsigned d = (unsigned)(*p++ - '0');

		if (v > (~0ULL - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	switch (*p) {
	case 'k': case 'K':
		mul = 1ULL << 10;
		p++;
		break;
	case 'm': case 'M':
		mul = 1ULL << 20;
		p++;
		break;
	case 'g': case 'G':
		mul = 1ULL << 30;
		p++;
		break;
	}
	if (*p)
		return -1;
	if (v && mul > (unsigned long long)SIZE_MAX / v)
		return -1;
	*out = (size_t)(v * mul);
	return 0;
}

/* The normalised name and line of every key line of a file. */
struct keyline {
	char *name;
	char *raw; /* the key as written, up to '=' or a blank */
	int line;
	bool used;
};

struct lines {
	struct keyline *v;
	size_t nr, alloc;
};

static void lines_release(struct lines *l)
{
	for (size_t i = 0; i < l->nr; i++) {
		free(l->v[i].name);
		free(l->v[i].raw);
	}
	free(l->v);
}

static char *read_file(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, alloc = 0, n;

	if (!f)
		return NULL;
	do {
		TG_ALLOC_GROW(buf, len + 4096 + 1, alloc);
		n = fread(buf + len, 1, alloc - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/*
 * libgit2's parser stops at a NUL byte and accepts what came before, so
 * a binary file would silently read as an empty configuration (a bad
 * file must be an error with file and line).
 */
static int check_text(const char *shown, const char *text, size_t len)
{
	const char *nul = memchr(text, '\0', len);
	int line = 1;

	if (!nul)
		return 0;
	for (const char *p = text; p < nul; p++)
		line += *p == '\n';
	return tg_error_set(TG_EPARSE, "%s:%d: NUL byte: not a text file",
			    shown, line);
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/*
 * Scan git-config text for "[section "sub"]" headers and "key = value"
 * lines, naming each key as libgit2 does (section and key lowercased,
 * subsection kept). Good enough to point at a line; libgit2 stays the
 * parser of record.
 */
static void find_lines(struct lines *out, const char *text)
{
	const char *p = text;
	char *section = tg_xstrdup("");
	int line = 1;

	while (*p) {
		const char *eol = strchr(p, '\n');
		const char *q = p;

		if (!eol)
			eol = p + strlen(p);
		while (q < eol && isspace((unsigned char)*q))
			q++;
		if (q < eol && *q == '[') {
			const char *s = ++q, *sub = NULL;
			size_t slen, sublen = 0;
			char *name;

			while (q < eol && *q != ']' && *q != '"' &&
			       !isspace((unsigned char)*q))
				q++;
			slen = (size_t)(q - s);
			while (q < eol && isspace((unsigned char)*q))
				q++;
			if (q < eol && *q == '"') {
				sub = ++q;
				while (q < eol && *q != '"') {
					if (*q == '\\' && q + 1 < eol)
						q++;
					q++;
				}
				sublen = (size_t)(q - sub);
			}
			while (q < eol && *q != ']')
				q++;
			if (q < eol)
				q++;
			name = tg_xstrndup(s, slen);
			lower(name);
			free(section);
			if (sub) {
				char *t = tg_xstrndup(sub, sublen);

				section = tg_xasprintf("%s.%s", name, t);
				free(t);
				free(name);
			} else {
				section = name;
			}
			while (q < eol && isspace((unsigned char)*q))
				q++;
		}
		if (q < eol && (isalnum((unsigned char)*q))) {
			const char *k = q;
			char *key;
			struct keyline *kl;

			const char *r = k;

			while (r < eol && *r != '=' && !isspace((unsigned char)*r))
				r++;
			while (q < eol && (isalnum((unsigned char)*q) || *q == '-'))
				q++;
			key = tg_xstrndup(k, (size_t)(q - k));
			lower(key);
			TG_ALLOC_GROW(out->v, out->nr + 1, out->alloc);
			kl = &out->v[out->nr++];
			kl->name = tg_xasprintf("%s.%s", section, key);
			kl->raw = tg_xstrndup(k, (size_t)(r - k));
			kl->line = line;
			kl->used = false;
			free(key);
			/* a value continued with a trailing backslash */
			while (eol > p && *eol == '\n' && eol[-1] == '\\' &&
			       eol[1]) {
				line++;
				p = eol + 1;
				eol = strchr(p, '\n');
				if (!eol)
					eol = p + strlen(p);
			}
		}
		if (!*eol)
			break;
		p = eol + 1;
		line++;
	}
	free(section);
}

/* The line of the next use of `name` in the file, or 0. */
static int line_of(struct lines *l, const char *name)
{
	for (size_t i = 0; i < l->nr; i++) {
		if (!l->v[i].used && !strcmp(l->v[i].name, name)) {
			l->v[i].used = true;
			return l->v[i].line;
		}
	}
	return 0;
}

struct layer {
	struct tg_config *cfg;
	const char *path;
	struct lines lines;
	bool only_txguard; /* a git config file: other sections are git's */
	bool git_config;   /* name it "git config (FILE:LINE)" as an origin */
	bool toml;         /* pyproject.toml: keys are not git config's */
	/* single-valued keys seen in this file, and their lines */
	char **seen;
	int *seen_line;
	size_t nseen, alloc_seen, alloc_seen_line;
	int err;
};

static const char *const main_keys[] = {
	"failOn", "baseline", "include", "exclude", "owner", "factory",
	"maxFileSize",
};

/* `s` lowercased without '_' and '-', for comparing spellings. */
static char *squash(const char *s)
{
	char *out = tg_xmalloc(strlen(s) + 1), *o = out;

	for (; *s; s++)
		if (*s != '_' && *s != '-')
			*o++ = (char)tolower((unsigned char)*s);
	*o = '\0';
	return out;
}

/* Edit distance, bounded: enough to suggest a key for a typo. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), prev[64], cur[64];

	if (la >= 63 || lb >= 63)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;

			cur[j] = sub < del ? (sub < ins ? sub : ins) :
					     (del < ins ? del : ins);
		}
		memcpy(prev, cur, sizeof(prev[0]) * (lb + 1));
	}
	return prev[lb];
}

/* " (did you mean failOn?)" for a key close to a known one, or "". */
static char *suggest(const char *key, const char *const *known, size_t n)
{
	char *k = squash(key), *best = NULL;
	size_t best_d = 3;

	for (size_t i = 0; i < n; i++) {
		char *c = squash(known[i]);
		size_t d = strcmp(c, k) ? distance(k, c) : 0;

		if (d < best_d) {
			best_d = d;
			best = (char *)known[i];
		}
		free(c);
	}
	free(k);
	return best ? tg_xasprintf(" (did you mean %s?)", best) : tg_xstrdup("");
}

/* Has this single-valued key come before in this file? Its line, or 0. */
static int seen_before(struct layer *ly, const char *name, int line)
{
	for (size_t i = 0; i < ly->nseen; i++)
		if (!strcmp(ly->seen[i], name))
			return ly->seen_line[i];
	TG_ALLOC_GROW(ly->seen, ly->nseen + 1, ly->alloc_seen);
	TG_ALLOC_GROW(ly->seen_line, ly->nseen + 1, ly->alloc_seen_line);
	ly->seen[ly->nseen] = tg_xstrdup(name);
	ly->seen_line[ly->nseen++] = line;
	return 0;
}

static int fail(struct layer *ly, int line, const char *fmt, const char *a,
		const char *b)
{
	char *msg = tg_xasprintf(fmt, a, b);

	if (line > 0)
		ly->err = tg_error_set(TG_EPARSE, "%s:%d: %s", ly->path, line, msg);
	else
		ly->err = tg_error_set(TG_EPARSE, "%s: %s", ly->path, msg);
	free(msg);
	return -1;
}

/* A single-valued key given twice in one file is an error naming both lines. */
static int once(struct layer *ly, int line, const char *name)
{
	int first = seen_before(ly, name, line);
	char at[32];

	if (!first || !line)
		return 0;
	snprintf(at, sizeof(at), "%d", first);
	return fail(ly, line, "'%s' is given twice in this file: on line %s and here",
		    name, at);
}

static void push(char ***v, size_t *n, size_t *alloc, const char *s)
{
	TG_ALLOC_GROW(*v, *n + 1, *alloc);
	(*v)[(*n)++] = tg_xstrdup(s);
}

/*
 * [txguard "rule.TX003"] severity = critical|high|medium|low|off
 * [txguard "class.NAME"] path = GLOB (repeatable), failOn = LEVEL
 * libgit2 names them txguard.rule.TX003.severity, txguard.class.NAME.path.
 */
static int subsection_entry(struct layer *ly, int line, const char *name,
			    const char *key, const char *v)
{
	struct tg_config *cfg = ly->cfg;
	const char *var = strrchr(key, '.');

	if (!v || !*v)
		return fail(ly, line, "'%s' needs a value%s", name, "");
	if (!strncmp(key, "rule.", 5) && var > key + 5) {
		char id[16];
		size_t n, len = (size_t)(var - key - 5);
		const struct tg_rule *all = tg_rules_all(&n), *r;

		if (len >= sizeof(id))
			return fail(ly, line, "unknown rule in '%s'%s", name, "");
		memcpy(id, key + 5, len);
		id[len] = '\0';
		if (!(r = tg_rules_lookup(id)) || (size_t)(r - all) >= TG_RULE_SLOTS)
			return fail(ly, line,
				    "unknown rule '%s' in '%s' (see 'txguard explain')",
				    id, name);
		if (strcmp(var + 1, "severity"))
			return fail(ly, line,
				    "unknown key '%s' (a rule subsection takes only severity)%s",
				    name, "");
		if (once(ly, line, name) < 0)
			return -1;
		if (!strcmp(v, "off")) {
			cfg->rule_severity[r - all] = -1;
		} else {
			int s = tg_severity_parse(v);

			if (s < 0 || s == TG_SEV_NEVER)
				return fail(ly, line,
					    "bad value '%s' for '%s' (critical, high, medium, low or off)",
					    v, name);
			cfg->rule_severity[r - all] = s;
		}
		return 0;
	}
	if (!strncmp(key, "class.", 6) && var > key + 6) {
		struct tg_file_class *c = get_class(cfg, key + 6,
						    (size_t)(var - key - 6));

		if (!strcmp(var + 1, "path")) {
			if (!c->paths_configured) {
				/* the first configured path replaces built-ins */
				free_list(c->paths, c->npaths);
				c->paths = NULL;
				c->npaths = c->alloc_paths = 0;
				c->paths_configured = true;
			}
			class_add_path(c, v);
			return 0;
		}
		if (!strcmp(var + 1, "failon")) {
			int s = tg_severity_parse(v);

			if (s < 0)
				return fail(ly, line,
					    "bad value '%s' for '%s' (critical, high, medium, low or never)",
					    v, name);
			if (once(ly, line, name) < 0)
				return -1;
			c->fail_on = (enum tg_severity)s;
			return 0;
		}
		return fail(ly, line,
			    "unknown key '%s' (a class subsection takes path and failOn)%s",
			    name, "");
	}
	return fail(ly, line,
		    "unknown key '%s' (subsections are \"rule.ID\" and \"class.NAME\")%s",
		    name, "");
}

static int apply_entry(struct layer *ly, int line, const char *name,
		       const char *v);

static int entry_cb(const git_config_entry *e, void *payload)
{
	struct layer *ly = payload;
	const char *name = e->name;

	if (strncmp(name, "txguard.", 8)) {
		if (ly->only_txguard)
			return 0;
		return fail(ly, line_of(&ly->lines, name),
			    "unknown section in '%s' (only [txguard] is allowed here)%s",
			    name, "");
	}
	return apply_entry(ly, line_of(&ly->lines, name), name, e->value);
}

/* One txguard.KEY or txguard.rule.ID.KEY / txguard.class.NAME.KEY value. */
static int apply_entry(struct layer *ly, int line, const char *name,
		       const char *v)
{
	struct tg_config *cfg = ly->cfg;
	const char *key = name + 8;
	if (strchr(key, '.'))
		return subsection_entry(ly, line, name, key, v);
	if (!strcmp(key, "failon") || !strcmp(key, "baseline") ||
	    !strcmp(key, "include") || !strcmp(key, "exclude") ||
	    !strcmp(key, "owner") || !strcmp(key, "factory") ||
	    !strcmp(key, "maxfilesize")) {
		if (!v || !*v)
			return fail(ly, line, "'%s' needs a value%s", name, "");
	}
	if (!strcmp(key, "failon")) {
		int s = tg_severity_parse(v);

		if (s < 0)
			return fail(ly, line,
				    "bad value '%s' for '%s' (critical, high, medium, low or never)",
				    v, name);
		if (once(ly, line, name) < 0)
			return -1;
		cfg->fail_on = (enum tg_severity)s;
		cfg->fail_on_set = true;
		free(cfg->fail_on_origin);
		if (ly->git_config && !ly->toml)
			cfg->fail_on_origin = tg_xasprintf("git config (%s:%d)",
							   ly->path, line);
		else
			cfg->fail_on_origin = tg_xasprintf("%s:%d", ly->path,
							   line);
	} else if (!strcmp(key, "baseline")) {
		if (!baseline_path_ok(v))
			return fail(ly, line,
				    "baseline '%s' is outside the working tree: the baseline lives inside it (a relative path without '..')%s",
				    v, "");
		if (once(ly, line, name) < 0)
			return -1;
		free(cfg->baseline);
		cfg->baseline = tg_xstrdup(v);
	} else if (!strcmp(key, "include")) {
		tg_glob_set_add(&cfg->files, false, v);
	} else if (!strcmp(key, "exclude")) {
		tg_glob_set_add(&cfg->files, true, v);
	} else if (!strcmp(key, "owner")) {
		push(&cfg->owners, &cfg->nowners, &cfg->alloc_owners, v);
	} else if (!strcmp(key, "factory")) {
		push(&cfg->factories, &cfg->nfactories, &cfg->alloc_factories, v);
	} else if (!strcmp(key, "maxfilesize")) {
		size_t sz;

		if (tg_config_parse_size(&sz, v) < 0)
			return fail(ly, line,
				    "bad value '%s' for '%s' (a size such as 8m, 512k, 1g)",
				    v, name);
		if (once(ly, line, name) < 0)
			return -1;
		cfg->max_file_size = sz;
	} else {
		char *hint = suggest(key, main_keys, TG_ARRAY_SIZE(main_keys));

		fail(ly, line, "unknown key '%s'%s", name, hint);
		free(hint);
		return -1;
	}
	return 0;
}

/*
 * Keys libgit2 would refuse to parse at all (`fail_on`: git keys have no
 * '_'): name the line and the key meant, before libgit2 says "invalid
 * character".
 */
static int check_key_spelling(struct layer *ly)
{
	for (size_t i = 0; i < ly->lines.nr; i++) {
		const struct keyline *kl = &ly->lines.v[i];
		const char *dot;
		bool bad = false;
		char *hint;

		for (const char *p = kl->raw; *p; p++)
			if (!isalnum((unsigned char)*p) && *p != '-')
				bad = true;
		if (!bad || strncmp(kl->name, "txguard.", 8))
			continue;
		dot = strrchr(kl->name, '.');
		if (dot == kl->name + 7)
			hint = suggest(kl->raw, main_keys,
				       TG_ARRAY_SIZE(main_keys));
		else if (!strncmp(kl->name, "txguard.class.", 14))
			hint = suggest(kl->raw,
				       (const char *const[]){ "path", "failOn" }, 2);
		else
			hint = suggest(kl->raw, (const char *const[]){ "severity" }, 1);
		fail(ly, kl->line, "unknown key '%s'%s", kl->raw, hint);
		free(hint);
		return ly->err;
	}
	return 0;
}

/* Apply the text of one file, parsed by libgit2 from `path`; messages
 * name `shown`. */
static int load_text(struct tg_config *cfg, const char *path, const char *shown,
		     const char *text, bool only_txguard)
{
	struct layer ly = { 0 };
	git_config *gc = NULL;
	int err;

	ly.cfg = cfg;
	ly.path = shown;
	ly.only_txguard = only_txguard;
	ly.git_config = only_txguard;
	find_lines(&ly.lines, text);
	if ((err = check_key_spelling(&ly)) < 0)
		goto out;
	if (git_config_open_ondisk(&gc, path) < 0) {
		const git_error *e = git_error_last();

		err = tg_error_set(TG_EPARSE, "%s: %s", shown,
				   e && e->message ? e->message : "cannot parse");
		goto out;
	}
	err = git_config_foreach(gc, entry_cb, &ly);
	if (ly.err)
		err = ly.err;
	else if (err < 0)
		err = tg_error_git(shown);
out:
	lines_release(&ly.lines);
	for (size_t i = 0; i < ly.nseen; i++)
		free(ly.seen[i]);
	free(ly.seen);
	free(ly.seen_line);
	git_config_free(gc);
	return err;
}

/*
 * Apply one file; a missing one is an empty layer (*missing = true).
 * Messages name it `shown` (NULL: its path).
 */
static int load_layer(struct tg_config *cfg, const char *path,
		      const char *shown, bool only_txguard, bool *missing)
{
	struct stat st;
	char *text;
	size_t len;
	int err;

	if (missing)
		*missing = false;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			if (missing)
				*missing = true;
			return 0;
		}
		return tg_error_set(TG_EIO, "%s: %s", path, strerror(errno));
	}
	if (!S_ISREG(st.st_mode))
		return tg_error_set(TG_EPARSE, "%s: not a regular file", path);
	if (!(text = read_file(path, &len)))
		return tg_error_set(TG_EIO, "%s: %s", path, strerror(errno));
	if (!shown)
		shown = path;
	err = check_text(shown, text, len);
	if (!err)
		err = load_text(cfg, path, shown, text, only_txguard);
	free(text);
	return err;
}

/*
 * No `.txguard` in the working tree (GIT_DIR set from elsewhere makes the
 * current directory the work tree): use the one in the index git
 * will commit, as git falls back for .gitmodules. libgit2 only parses
 * files, so the blob goes through an anonymous memory file: nothing is
 * written to disk.
 */
static int load_staged(struct tg_config *cfg, struct tg_repo *repo,
		       bool *missing)
{
	char *text = NULL, *path = NULL;
	size_t len;
	int fd = -1, err = 0;

	if (!tg_repo_workdir(repo) && !getenv("GIT_INDEX_FILE"))
		return 0; /* bare: defaults */
	err = tg_repo_read_path(&text, &len, repo, ".txguard", true);
	if (err == TG_ENOTFOUND) {
		tg_error_clear();
		return 0; /* none staged either: defaults */
	}
	*missing = false;
	if (err < 0)
		return err; /* an index it cannot read: never a silent default */
	fd = memfd_create("txguard-config", MFD_CLOEXEC);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len) {
		err = tg_error_set(TG_EIO, "cannot read the staged .txguard: %s",
				   strerror(errno));
		goto out;
	}
	path = tg_xasprintf("/proc/self/fd/%d", fd);
	err = check_text(".txguard (staged)", text, len);
	if (!err)
		err = load_text(cfg, path, ".txguard (staged)", text, false);
out:
	if (fd >= 0)
		close(fd);
	free(path);
	free(text);
	return err;
}

static const char *const multi_keys[] = {
	"include", "exclude", "owner", "factory",
};

static bool is_multi(const char *name)
{
	const char *last = strrchr(name, '.') + 1;

	if (!strncmp(name, "txguard.class.", 14))
		return !strcmp(last, "path");
	if (strncmp(name, "txguard.rule.", 13))
		for (size_t i = 0; i < TG_ARRAY_SIZE(multi_keys); i++)
			if (!strcmp(last, multi_keys[i]))
				return true;
	return false;
}

/* The txguard name of a [tool.txguard] key, or NULL when it has none. */
static char *toml_name(const struct tg_toml_entry *e)
{
	char *name = NULL;

	if (e->nkey == 3) {
		name = tg_xasprintf("txguard.%s", e->key[2]);
		lower(name);
	} else if (e->nkey == 5 && (!strcmp(e->key[2], "rule") ||
				    !strcmp(e->key[2], "class"))) {
		char *var = tg_xstrdup(e->key[4]);

		lower(var);
		name = tg_xasprintf("txguard.%s.%s.%s", e->key[2], e->key[3], var);
		free(var);
	}
	return name;
}

/* Apply the [tool.txguard] table of a pyproject.toml's text. */
static int load_toml_text(struct tg_config *cfg, const char *shown,
			  const char *text, size_t len)
{
	struct tg_toml doc = TG_TOML_INIT;
	struct layer ly = { 0 };
	int err;

	if ((err = tg_toml_parse(&doc, shown, text, len)) < 0)
		return err;
	ly.cfg = cfg;
	ly.path = shown;
	ly.toml = true;
	for (size_t i = 0; !err && i < doc.nr; i++) {
		const struct tg_toml_entry *e = &doc.v[i];
		char *name, *dotted;

		if (e->nkey < 2 || strcmp(e->key[0], "tool") ||
		    strcmp(e->key[1], "txguard"))
			continue;
		dotted = tg_xstrdup(e->key[0]);
		for (size_t k = 1; k < e->nkey; k++) {
			char *t = tg_xasprintf("%s.%s", dotted, e->key[k]);

			free(dotted);
			dotted = t;
		}
		name = e->in_array_table ? NULL : toml_name(e);
		if (name && e->nkey == 3) {
			bool known = false;

			for (size_t k = 0; k < TG_ARRAY_SIZE(main_keys); k++)
				known |= !strcasecmp(main_keys[k], e->key[2]);
			if (!known) {
				free(name);
				name = NULL;
			}
		}
		if (!name) {
			char *hint = e->nkey == 3 ?
				suggest(e->key[2], main_keys, TG_ARRAY_SIZE(main_keys)) :
				tg_xstrdup(" ([tool.txguard] takes failOn, baseline, include, exclude, owner, factory, maxFileSize and the tables rule.ID and class.NAME)");

			fail(&ly, e->line, "unknown key '%s'%s", dotted, hint);
			free(hint);
			err = ly.err;
		} else if (e->type == TG_TOML_ARRAY && !is_multi(name)) {
			fail(&ly, e->line, "'%s' takes one value, not an array%s",
			     dotted, "");
			err = ly.err;
		} else if (e->type == TG_TOML_NESTED_ARRAY ||
			   e->type == TG_TOML_OTHER) {
			fail(&ly, e->line, "'%s' takes a string%s", dotted,
			     e->type == TG_TOML_OTHER ? "" : " or an array of strings");
			err = ly.err;
		}
		for (size_t k = 0; !err && k < e->nvalues; k++) {
			bool number_ok = !strcmp(name, "txguard.maxfilesize");

			if (e->value_types[k] != TG_TOML_STRING &&
			    !(number_ok && e->value_types[k] == TG_TOML_INTEGER)) {
				fail(&ly, e->line, "'%s' takes a string, not '%s'",
				     dotted, e->values[k]);
				err = ly.err;
			} else if (apply_entry(&ly, e->line, name, e->values[k]) < 0) {
				err = ly.err;
			}
		}
		if (!err && !e->nvalues && e->type == TG_TOML_ARRAY) {
			fail(&ly, e->line, "'%s' needs a value%s", dotted, "");
			err = ly.err;
		}
		free(name);
		free(dotted);
	}
	for (size_t i = 0; i < ly.nseen; i++)
		free(ly.seen[i]);
	free(ly.seen);
	free(ly.seen_line);
	tg_toml_release(&doc);
	return err;
}

/*
 * pyproject.toml at the top of the working tree (or, without one there,
 * in the index when `.txguard` was looked for there too): its
 * [tool.txguard] table, unless `.txguard` exists,
 * which then takes precedence; a pyproject.toml that also configures
 * txguard gets a notice saying it is ignored.
 */
static int load_pyproject(struct tg_config *cfg, struct tg_repo *repo,
			  bool have_txguard, bool staged_fallback)
{
	const char *wd = tg_repo_workdir(repo), *shown = "pyproject.toml";
	char *text = NULL;
	size_t len = 0;
	int err = 0;

	if (wd) {
		char *path = tg_xasprintf("%spyproject.toml", wd);
		struct stat st;

		if (!stat(path, &st) && S_ISREG(st.st_mode) &&
		    !(text = read_file(path, &len)))
			err = tg_error_set(TG_EIO, "%s: %s", shown,
					   strerror(errno));
		free(path);
	}
	/* the index only where .txguard was looked for there too */
	if (!err && !text && staged_fallback &&
	    (wd || getenv("GIT_INDEX_FILE"))) {
		err = tg_repo_read_path(&text, &len, repo, "pyproject.toml", true);
		shown = "pyproject.toml (staged)";
		if (err == TG_ENOTFOUND) {
			tg_error_clear();
			err = 0;
		}
	}
	/* no mention of txguard: nothing to read, whatever else it holds */
	if (err || !text || !memmem(text, len, "txguard", 7))
		goto out;
	if (have_txguard) {
		if (memmem(text, len, "tool.txguard", 12)) {
			free(cfg->notice);
			cfg->notice = tg_xstrdup(
				"pyproject.toml's [tool.txguard] is ignored: .txguard takes precedence (keep one of them)");
		}
		goto out;
	}
	if ((err = load_toml_text(cfg, shown, text, len)) == 0)
		cfg->file = "pyproject.toml";
out:
	free(text);
	return err;
}

int tg_config_load_pyproject_text(struct tg_config *cfg, const char *name,
				  const char *text, size_t len)
{
	return load_toml_text(cfg, name, text, len);
}

int tg_config_load_file(struct tg_config *cfg, const char *path)
{
	return load_layer(cfg, path, NULL, false, NULL);
}

int tg_config_load(struct tg_config *cfg, struct tg_repo *repo)
{
	const char *wd = tg_repo_workdir(repo);
	git_buf buf = GIT_BUF_INIT;
	bool missing = true, staged;
	int err = 0;

	if (wd) {
		char *path = tg_xasprintf("%s.txguard", wd);

		err = load_layer(cfg, path, ".txguard", false, &missing);
		free(path);
		if (err < 0)
			return err;
	}
	staged = missing;
	if (missing && (err = load_staged(cfg, repo, &missing)) < 0)
		return err;
	if ((err = load_pyproject(cfg, repo, !missing, staged)) < 0)
		return err;
	/* git config, lowest first: XDG, global, the repository's own.
	 * GIT_CONFIG_GLOBAL replaces the first two, as in git. */
	if (getenv("GIT_CONFIG_GLOBAL")) {
		const char *g = getenv("GIT_CONFIG_GLOBAL");

		if (*g && strcmp(g, "/dev/null") &&
		    (err = load_layer(cfg, g, NULL, true, NULL)) < 0)
			return err;
	} else {
		if (!git_config_find_xdg(&buf)) {
			err = load_layer(cfg, buf.ptr, NULL, true, NULL);
			git_buf_dispose(&buf);
			if (err < 0)
				return err;
		}
		git_error_clear();
		if (!git_config_find_global(&buf)) {
			err = load_layer(cfg, buf.ptr, NULL, true, NULL);
			git_buf_dispose(&buf);
			if (err < 0)
				return err;
		}
	}
	git_error_clear();
	if (!git_repository_item_path(&buf, tg_repo_git(repo),
				      GIT_REPOSITORY_ITEM_CONFIG)) {
		err = load_layer(cfg, buf.ptr, NULL, true, NULL);
		git_buf_dispose(&buf);
		if (err < 0)
			return err;
	}
	git_error_clear();
	return 0;
}
