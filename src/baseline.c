/*
 * The baseline file: parse, serialise, match, write atomically.
 * The format is described in include/txguard/baseline.h.
 */
#include "txguard/common.h"
#include "txguard/baseline.h"
#include "txguard/buf.h"
#include "txguard/error.h"
#include "txguard/finding.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

const char tg_baseline_default_header[] =
	"# txguard baseline: findings accepted as existing debt; only findings\n"
	"# not listed here block. One finding a line, sorted:\n"
	"#   fingerprint rule path unit call  (only the fingerprint is matched)\n"
	"# Regenerate with `txguard baseline`. So that branches adding entries\n"
	"# merge cleanly, add to .gitattributes: .txguard-baseline merge=union\n";

void tg_baseline_release(struct tg_baseline *b)
{
	for (size_t i = 0; i < b->nr; i++) {
		free(b->v[i].rule);
		free(b->v[i].path);
		free(b->v[i].unit);
		free(b->v[i].call_text);
	}
	free(b->v);
	free(b->name);
	tg_buf_release(&b->comments);
	b->name = NULL;
	b->v = NULL;
	b->nr = b->alloc = 0;
}

static bool is_bare(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '\\';
}

void tg_baseline_quote(struct tg_buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	bool bare = *p != '\0';

	for (const unsigned char *q = p; *q && bare; q++)
		bare = is_bare(*q);
	if (bare) {
		tg_buf_addstr(out, (const char *)p);
		return;
	}
	tg_buf_addch(out, '"');
	for (; *p; p++) {
		switch (*p) {
		case '"': tg_buf_addstr(out, "\\\""); break;
		case '\\': tg_buf_addstr(out, "\\\\"); break;
		case '\t': tg_buf_addstr(out, "\\t"); break;
		case '\n': tg_buf_addstr(out, "\\n"); break;
		case '\r': tg_buf_addstr(out, "\\r"); break;
		default:
			if (*p < 0x20 || *p >= 0x7f)
				tg_buf_addf(out, "\\%03o", *p);
			else
				tg_buf_addch(out, *p);
		}
	}
	tg_buf_addch(out, '"');
}

/*
 * Read one field at *pp (end `end`) into a fresh string. Returns NULL
 * and sets *why on a malformed field. A quoted field may not hold a NUL
 * (\000): the entry fields are C strings.
 */
static char *unquote(const char **pp, const char *end, const char **why)
{
	const char *p = *pp;
	struct tg_buf b = TG_BUF_INIT;

	if (p >= end) {
		*why = "missing field";
		return NULL;
	}
	if (*p != '"') {
		const char *s = p;

		while (p < end && *p != ' ') {
			if (!is_bare((unsigned char)*p)) {
				*why = "unquoted field holds a control, quote or non-ASCII byte";
				return NULL;
			}
			p++;
		}
		*pp = p;
		return tg_xstrndup(s, (size_t)(p - s));
	}
	for (p++; p < end && *p != '"'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f) {
			*why = "control byte inside a quoted field";
			goto bad;
		}
		if (c != '\\') {
			tg_buf_addch(&b, c);
			continue;
		}
		if (++p >= end) {
			*why = "unterminated escape";
			goto bad;
		}
		switch (*p) {
		case '"': tg_buf_addch(&b, '"'); break;
		case '\\': tg_buf_addch(&b, '\\'); break;
		case 't': tg_buf_addch(&b, '\t'); break;
		case 'n': tg_buf_addch(&b, '\n'); break;
		case 'r': tg_buf_addch(&b, '\r'); break;
		default: {
			unsigned v = 0;

			for (int k = 0; k < 3; k++, p++) {
				if (p >= end || *p < '0' || *p > '7') {
					*why = "bad escape in a quoted field";
					goto bad;
				}
				v = v * 8 + (unsigned)(*p - '0');
			}
			p--;
			if (v == 0 || v > 0xff) {
				*why = "bad octal escape in a quoted field";
				goto bad;
			}
			tg_buf_addch(&b, (int)v);
		}
		}
	}
	if (p >= end) {
		*why = "unterminated quoted field";
		goto bad;
	}
	*pp = p + 1;
	return tg_buf_detach(&b, NULL);
bad:
	tg_buf_release(&b);
	return NULL;
}

static bool is_rule_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* Parse one record line (without its end of line) into `e`. */
static const char *parse_entry(struct tg_baseline_entry *e, const char *p,
			       const char *end)
{
	const char *why = NULL, *s;
	char **fields[] = { &e->path, &e->unit, &e->call_text };

	for (int i = 0; i < TG_FINGERPRINT_HEXSZ; i++, p++) {
		if (p >= end || !((*p >= '0' && *p <= '9') ||
				  (*p >= 'a' && *p <= 'f')))
			return "expected a fingerprint of 16 lowercase hex digits";
		e->fingerprint[i] = *p;
	}
	e->fingerprint[TG_FINGERPRINT_HEXSZ] = '\0';
	if (p >= end || *p++ != ' ')
		return "expected a space after the fingerprint";
	for (s = p; p < end && is_rule_char(*p); p++)
		;
	if (p == s)
		return "expected a rule id";
	e->rule = tg_xstrndup(s, (size_t)(p - s));
	for (size_t i = 0; i < TG_ARRAY_SIZE(fields); i++) {
		if (p >= end || *p++ != ' ')
			return "expected rule, path, unit and call separated by one space";
		*fields[i] = unquote(&p, end, &why);
		if (!*fields[i])
			return why;
	}
	if (p != end)
		return "trailing text after the call field";
	return NULL;
}

int tg_baseline_parse(struct tg_baseline *out, const char *name,
		      const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	size_t lineno = 0;

	out->name = tg_xstrdup(name);
	if (memchr(buf, '\0', len)) {
		size_t at = 1;

		for (const char *q = buf; *q; q++)
			at += *q == '\n';
		tg_baseline_release(out);
		return tg_error_set(TG_EPARSE, "%s:%zu: NUL byte: not a baseline file",
				    name, at);
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		const char *why;
		struct tg_baseline_entry *e;

		lineno++;
		if ((size_t)(eol - p) > TG_BASELINE_MAX_LINE) {
			tg_baseline_release(out);
			return tg_error_set(TG_EPARSE, "%s:%zu: line longer than %d bytes",
					    name, lineno, TG_BASELINE_MAX_LINE);
		}
		if (eol > p && eol[-1] == '\r')
			eol--;
		if (eol == p) {
			/* blank line */
		} else if (*p == '#') {
			tg_buf_add(&out->comments, p, (size_t)(eol - p));
			tg_buf_addch(&out->comments, '\n');
		} else {
			TG_ALLOC_GROW(out->v, out->nr + 1, out->alloc);
			e = &out->v[out->nr++];
			memset(e, 0, sizeof(*e));
			e->line = lineno;
			why = parse_entry(e, p, eol);
			if (why) {
				tg_baseline_release(out);
				return tg_error_set(TG_EPARSE, "%s:%zu: %s", name,
						    lineno, why);
			}
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void tg_baseline_format(struct tg_buf *out, const struct tg_findings *list,
			const char *comments)
{
	char **lines = tg_xcalloc(list->nr ? list->nr : 1, sizeof(*lines));
	size_t n = 0;
	struct tg_buf line = TG_BUF_INIT;

	tg_buf_addstr(out, comments && *comments ? comments :
			   tg_baseline_default_header);
	if (out->len && out->ptr[out->len - 1] != '\n')
		tg_buf_addch(out, '\n');
	for (size_t i = 0; i < list->nr; i++) {
		const struct tg_finding *f = &list->v[i];

		if (f->status == TG_STATUS_SUPPRESSED)
			continue;
		tg_buf_reset(&line);
		tg_buf_addf(&line, "%s %s ", f->fingerprint, f->rule->id);
		tg_baseline_quote(&line, f->path);
		tg_buf_addch(&line, ' ');
		tg_baseline_quote(&line, f->unit);
		tg_buf_addch(&line, ' ');
		tg_baseline_quote(&line, f->call_text);
		lines[n++] = tg_buf_detach(&line, NULL);
	}
	/* sorted, so a diff of the file is reviewable and merges are local */
	if (n > 1)
		qsort(lines, n, sizeof(*lines), cmp_str);
	for (size_t i = 0; i < n; i++) {
		tg_buf_addstr(out, lines[i]);
		tg_buf_addch(out, '\n');
		free(lines[i]);
	}
	free(lines);
	tg_buf_release(&line);
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int tg_baseline_write_file(const char *path, const struct tg_findings *list,
			   const char *comments)
{
	struct tg_buf data = TG_BUF_INIT;
	char *tmp = tg_xasprintf("%s.tmp.%ld", path, (long)getpid());
	int fd = -1, ret = 0;

	tg_baseline_format(&data, list, comments);
	/* temp file in the same directory + rename, never a half file */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0) {
		ret = tg_error_set(TG_EIO, "cannot create '%s': %s", tmp,
				   strerror(errno));
		goto out;
	}
	if (write_all(fd, data.ptr, data.len) < 0 || fsync(fd) < 0) {
		ret = tg_error_set(TG_EIO, "cannot write '%s': %s", tmp,
				   strerror(errno));
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		ret = tg_error_set(TG_EIO, "cannot write '%s': %s", tmp,
				   strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		ret = tg_error_set(TG_EIO, "cannot rename '%s' to '%s': %s", tmp,
				   path, strerror(errno));
		goto fail;
	}
	goto out;
fail:
	if (fd >= 0)
		close(fd);
	fd = -1;
	unlink(tmp);
out:
	free(tmp);
	tg_buf_release(&data);
	return ret;
}

static int cmp_entry_fp(const void *a, const void *b)
{
	const struct tg_baseline_entry *x = *(const struct tg_baseline_entry *const *)a;
	const struct tg_baseline_entry *y = *(const struct tg_baseline_entry *const *)b;
	int c = strcmp(x->fingerprint, y->fingerprint);

	if (c)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

size_t tg_baseline_apply(struct tg_baseline *b, struct tg_findings *list)
{
	struct tg_baseline_entry **idx;
	size_t n = 0;

	if (!b->nr)
		return 0;
	idx = tg_xmalloc(b->nr * sizeof(*idx));
	for (size_t i = 0; i < b->nr; i++) {
		b->v[i].matched = false;
		idx[i] = &b->v[i];
	}
	if (b->nr > 1)
		qsort(idx, b->nr, sizeof(*idx), cmp_entry_fp);
	for (size_t i = 0; i < list->nr; i++) {
		struct tg_finding *f = &list->v[i];
		size_t lo = 0, hi = b->nr;

		if (f->status == TG_STATUS_SUPPRESSED ||
		    f->status == TG_STATUS_BASELINED)
			continue;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (strcmp(idx[mid]->fingerprint, f->fingerprint) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		/* multiset: the first entry of this fingerprint still free */
		for (; lo < b->nr && !strcmp(idx[lo]->fingerprint, f->fingerprint);
		     lo++) {
			if (idx[lo]->matched)
				continue;
			idx[lo]->matched = true;
			if (f->status == TG_STATUS_NEW) {
				f->status = TG_STATUS_BASELINED;
				n++;
			}
			break;
		}
	}
	free(idx);
	return n;
}

void tg_baseline_prunable(const struct tg_baseline_entry ***out, size_t *nr,
			  const struct tg_baseline *b,
			  tg_baseline_scope_fn in_scope, void *payload)
{
	const struct tg_baseline_entry **v = NULL;
	size_t n = 0, alloc = 0;

	for (size_t i = 0; i < b->nr; i++) {
		const struct tg_baseline_entry *e = &b->v[i];

		if (e->matched)
			continue;
		if (in_scope && !in_scope(e->path, e->unit, payload))
			continue;
		TG_ALLOC_GROW(v, n + 1, alloc);
		v[n++] = e;
	}
	*out = v;
	*nr = n;
}
