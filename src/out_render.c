/*
 * out_render.c: the helpers every output writer uses (out_render.h).
 */
#include "txguard/common.h"
#include "txguard/buf.h"
#include "txguard/error.h"
#include "txguard/out.h"
#include "txguard/out_render.h"
#include "txguard/config.h"
#include "txguard/report.h"

#include <jansson.h>

const char *tg_out_status_name(enum tg_status s)
{
	switch (s) {
	case TG_STATUS_NEW: return "new";
	case TG_STATUS_PREEXISTING: return "pre-existing";
	case TG_STATUS_BASELINED: return "baselined";
	case TG_STATUS_SUPPRESSED: return "suppressed";
	}
	return "new";
}

/* Bytes of the UTF-8 sequence at p (1 to 4), or 0 when it is invalid. */
static size_t utf8_len(const unsigned char *p)
{
	size_t n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 :
		   (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;

	for (size_t k = 1; k < n; k++)
		if ((p[k] & 0xc0) != 0x80)
			return 0;
	return n;
}

static bool valid_utf8(const unsigned char *p)
{
	while (*p) {
		size_t n = utf8_len(p);

		if (!n)
			return false;
		p += n;
	}
	return true;
}

/* C0 controls, DEL, and the lead byte of a C1 control (U+0080..U+009F). */
static bool is_control(const unsigned char *p)
{
	return *p < 0x20 || *p == 0x7f ||
	       (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f);
}

void tg_out_add_path(struct tg_buf *b, const char *path)
{
	const unsigned char *p = (const unsigned char *)path;
	bool utf8 = valid_utf8(p), quote = false;

	for (const unsigned char *q = p; *q; q++)
		if (is_control(q) || *q == '"' || *q == '\\' ||
		    (*q >= 0x80 && !utf8))
			quote = true;
	if (!quote) {
		tg_buf_addstr(b, path);
		return;
	}
	tg_buf_addch(b, '"');
	for (; *p; p++) {
		switch (*p) {
		case '"': tg_buf_addstr(b, "\\\""); break;
		case '\\': tg_buf_addstr(b, "\\\\"); break;
		case '\a': tg_buf_addstr(b, "\\a"); break;
		case '\b': tg_buf_addstr(b, "\\b"); break;
		case '\f': tg_buf_addstr(b, "\\f"); break;
		case '\n': tg_buf_addstr(b, "\\n"); break;
		case '\r': tg_buf_addstr(b, "\\r"); break;
		case '\t': tg_buf_addstr(b, "\\t"); break;
		case '\v': tg_buf_addstr(b, "\\v"); break;
		default:
			if (is_control(p) && *p == 0xc2) {
				/* a C1 control: both bytes */
				tg_buf_addf(b, "\\%03o\\%03o", p[0], p[1]);
				p++;
			} else if (is_control(p) || (*p >= 0x80 && !utf8)) {
				tg_buf_addf(b, "\\%03o", *p);
			} else {
				tg_buf_addch(b, *p);
			}
		}
	}
	tg_buf_addch(b, '"');
}

void tg_out_add_shown_path(struct tg_buf *b, const char *path,
			   const struct tg_out_opts *opts)
{
	const char *prefix = opts ? opts->cwd_prefix : NULL;
	struct tg_buf rel = TG_BUF_INIT;
	size_t common = 0;

	if (!prefix || !*prefix) {
		tg_out_add_path(b, path);
		return;
	}
	/* the longest run of whole directories the two share */
	for (size_t i = 0; prefix[i] && prefix[i] == path[i]; i++)
		if (prefix[i] == '/')
			common = i + 1;
	for (const char *p = prefix + common; *p; p++)
		if (*p == '/')
			tg_buf_addstr(&rel, "../");
	tg_buf_addstr(&rel, path + common);
	tg_out_add_path(b, rel.ptr);
	tg_buf_release(&rel);
}

void tg_out_add_text(struct tg_buf *b, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		if (*p == '\n' || *p == '\t' || !is_control(p)) {
			tg_buf_addch(b, *p);
		} else if (*p == 0xc2) {
			tg_buf_addf(b, "\\%03o\\%03o", p[0], p[1]);
			p++;
		} else {
			tg_buf_addf(b, "\\%03o", *p);
		}
	}
}

json_t *tg_out_json_string(const char *s)
{
	struct tg_buf b = TG_BUF_INIT;
	json_t *j;

	if (!s)
		return json_null();
	if ((j = json_string(s)))
		return j;
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = utf8_len(p);

		if (!n) {
			tg_buf_addstr(&b, "\xef\xbf\xbd");
			p++;
			continue;
		}
		tg_buf_add(&b, p, n);
		p += n;
	}
	j = json_string(b.ptr);
	tg_buf_release(&b);
	/* still refused (an encoded surrogate, say): say so, never fail */
	return j ? j : json_string("\xef\xbf\xbd");
}

int tg_out_flush(FILE *fp, struct tg_buf *b)
{
	int ret = 0;

	if (b->len && fwrite(b->ptr, 1, b->len, fp) != b->len)
		ret = TG_EIO;
	tg_buf_reset(b);
	return ret;
}

#define JSON_FLAGS (JSON_INDENT(2) | JSON_PRESERVE_ORDER)

/* Write `text`, each line after the first indented by `indent` spaces. */
static bool put_indented(FILE *fp, const char *text, size_t indent)
{
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);

		if (fwrite(p, 1, len, fp) != len)
			return false;
		p += len;
		if (nl && *p && fprintf(fp, "%*s", (int)indent, "") < 0)
			return false;
	}
	return true;
}

int tg_out_json_stream(FILE *fp, json_t *root, json_t *parent,
		       const char *key, json_t *(*item)(void *ctx, size_t i),
		       void *ctx, size_t n, const char *what)
{
	char *doc = NULL, *at = NULL, marker[64];
	size_t indent = 0;
	bool ok = true;

	/*
	 * A placeholder string stands where the array goes; one that occurs
	 * in the document only once (a notice could quote anything).
	 */
	for (unsigned k = 0; !at; k++) {
		char quoted[80];

		snprintf(marker, sizeof(marker), "txguard-items-%u", k);
		json_object_set_new(parent, key, json_string(marker));
		free(doc);
		doc = json_dumps(root, JSON_FLAGS);
		if (!doc)
			break;
		snprintf(quoted, sizeof(quoted), "\"%s\"", marker);
		at = strstr(doc, quoted);
		if (at && strstr(at + 1, quoted))
			at = NULL;
		if (at)
			*at = '\0';
	}
	json_decref(root);
	if (!doc)
		return tg_error_set(TG_EIO, "cannot write the %s report", what);
	for (const char *p = at; p > doc && p[-1] != '\n'; p--)
		indent++;
	indent -= strlen(key) + 4; /* "key": */
	ok = fputs(doc, fp) >= 0;
	if (ok && !n)
		ok = fputs("[]", fp) >= 0;
	for (size_t i = 0; ok && i < n; i++) {
		json_t *j = item(ctx, i);
		char *s = j ? json_dumps(j, JSON_FLAGS) : NULL;

		json_decref(j);
		ok = s && fprintf(fp, "%s\n%*s", i ? "," : "[",
				  (int)indent + 2, "") >= 0 &&
		     put_indented(fp, s, indent + 2);
		free(s);
	}
	if (ok && n)
		ok = fprintf(fp, "\n%*s]", (int)indent, "") >= 0;
	if (ok)
		ok = fputs(at + strlen(marker) + 2, fp) >= 0 &&
		     fputc('\n', fp) != EOF;
	free(doc);
	if (!ok)
		return tg_error_set(TG_EIO, "cannot write the %s report", what);
	return 0;
}

static void add_counts(struct tg_buf *b, const struct tg_report *r)
{
	static const enum tg_severity order[] = {
		TG_SEV_CRITICAL, TG_SEV_HIGH, TG_SEV_MEDIUM, TG_SEV_LOW,
	};
	bool first = true;

	tg_buf_addf(b, "%zu new finding%s", r->nnew, r->nnew == 1 ? "" : "s");
	if (!r->nnew)
		return;
	tg_buf_addstr(b, " (");
	for (size_t i = 0; i < TG_ARRAY_SIZE(order); i++) {
		if (!r->new_by_sev[order[i]])
			continue;
		tg_buf_addf(b, "%s%zu %s", first ? "" : ", ",
			    r->new_by_sev[order[i]],
			    tg_severity_name(order[i]));
		first = false;
	}
	tg_buf_addch(b, ')');
}

static void add_skips(struct tg_buf *b, const struct tg_report *r)
{
	const struct tg_skips *s = &r->skipped;
	const struct {
		size_t n;
		const char *what;
	} kinds[] = {
		{ s->deleted, "deleted" },     { s->submodule, "submodule" },
		{ s->symlink, "symlink" },     { s->binary, "binary" },
		{ s->too_large, "too large" }, { s->not_python, "not Python" },
		{ s->too_complex, "too deeply nested or with an overlong line" },
		{ r->not_selected + s->not_selected,
		  "Python, not selected by include/exclude" },
	};
	size_t total = 0;
	bool first = true;

	for (size_t i = 0; i < TG_ARRAY_SIZE(kinds); i++)
		total += kinds[i].n;
	tg_buf_addf(b, "; %zu file%s skipped", total, total == 1 ? "" : "s");
	if (!total)
		return;
	tg_buf_addstr(b, " (");
	for (size_t i = 0; i < TG_ARRAY_SIZE(kinds); i++) {
		if (!kinds[i].n)
			continue;
		tg_buf_addf(b, "%s%zu %s", first ? "" : ", ", kinds[i].n,
			    kinds[i].what);
		first = false;
	}
	tg_buf_addch(b, ')');
}

/*
 * Why new findings did not block: the fail-on level and where it was
 * set, and a file class that was more lenient.
 */
static void add_verdict_reason(struct tg_buf *b, const struct tg_report *r)
{
	tg_buf_addf(b, " (fail-on: %s, from %s", tg_severity_name(r->fail_on),
		    r->fail_on_origin ? r->fail_on_origin : "the default");
	if (r->lenient_class) {
		tg_buf_addstr(b, "; files of class ");
		tg_out_add_text(b, r->lenient_class->name);
		tg_buf_addf(b, ": %s", tg_severity_name(r->lenient_class->fail_on));
	}
	tg_buf_addch(b, ')');
}

/* Colours of the verdict, as out_text.c colours the findings. */
#define C_RESET "\033[0m"
#define C_RED "\033[1;31m"
#define C_GREEN "\033[1;32m"

void tg_out_add_summary(struct tg_buf *b, const struct tg_report *r,
			const struct tg_out_opts *opts)
{
	const char *on = opts->color ? (r->blocked ? C_RED : C_GREEN) : "";
	const char *off = opts->color ? C_RESET : "";

	for (size_t i = 0; i < r->nnotices; i++) {
		tg_buf_addstr(b, "txguard: notice: ");
		tg_out_add_text(b, r->notices[i]);
		tg_buf_addch(b, '\n');
	}
	tg_buf_addstr(b, "txguard: ");
	add_counts(b, r);
	tg_buf_addf(b, "; %zu pre-existing, %zu baselined, %zu suppressed",
		    r->npreexisting, r->nbaselined, r->nsuppressed);
	tg_buf_addf(b, "; %zu changed unit%s checked in %zu file%s",
		    r->units_checked, r->units_checked == 1 ? "" : "s",
		    r->files_checked, r->files_checked == 1 ? "" : "s");
	if (r->prefiltered)
		tg_buf_addf(b, " (%zu without a word any rule needs, not parsed)",
			    r->prefiltered);
	if (r->describe) {
		tg_buf_addstr(b, " (");
		tg_out_add_text(b, r->describe);
		tg_buf_addch(b, ')');
	}
	if (r->partial_files)
		tg_buf_addf(b, "; %zu partially parsed", r->partial_files);
	if (r->incomplete_files)
		tg_buf_addf(b, "; %zu not fully analysed", r->incomplete_files);
	add_skips(b, r);
	if (r->blocked)
		tg_buf_addf(b, " - %s%s%s (fail-on: %s)\n", on,
			    opts->staged ? "commit blocked" : "blocked", off,
			    tg_severity_name(r->fail_on));
	else
		tg_buf_addf(b, " - %s%s%s", on,
			    opts->staged ? "commit allowed" : "passed", off);
	if (!r->blocked && r->nnew)
		add_verdict_reason(b, r);
	if (!r->blocked)
		tg_buf_addch(b, '\n');
	if (r->blocked && opts->staged && opts->skip_hint)
		tg_buf_addf(b,
			    "txguard: fix the findings above, suppress one with '# txguard: ignore[RULE]',\n"
			    "         or run '%s' to skip the hook once\n",
			    opts->skip_hint);
	else if (r->blocked && opts->staged)
		tg_buf_addstr(b,
			      "txguard: fix the findings above, or suppress one with '# txguard: ignore[RULE]'\n");
}

int tg_out_lines(FILE *fp, const struct tg_report *r,
		 const struct tg_out_opts *opts,
		 void (*add)(struct tg_buf *b, const struct tg_finding *f,
			     const struct tg_out_opts *opts, void *ctx),
		 void *ctx)
{
	struct tg_buf b = TG_BUF_INIT;
	size_t shown = 0;
	int ret = 0;

	for (size_t i = 0; i < r->findings.nr; i++) {
		const struct tg_finding *f = &r->findings.v[i];

		if (f->status != TG_STATUS_NEW && !opts->all)
			continue;
		add(&b, f, opts, ctx);
		shown++;
		if (b.len >= 64 * 1024 && tg_out_flush(fp, &b) < 0)
			ret = TG_EIO;
	}
	if (!(opts->quiet && !shown && !r->nnotices && !r->blocked))
		tg_out_add_summary(&b, r, opts);
	if (tg_out_flush(fp, &b) < 0)
		ret = TG_EIO;
	tg_buf_release(&b);
	return ret;
}
