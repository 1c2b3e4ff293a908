#include "txguard/common.h"
#include "txguard/error.h"
#include "txguard/out.h"

#include <jansson.h>

int tg_format_parse(const char *s)
{
	static const char *const names[] = {
		[TG_FORMAT_TEXT] = "text",
		[TG_FORMAT_JSON] = "json",
		[TG_FORMAT_SARIF] = "sarif",
		[TG_FORMAT_GITHUB] = "github",
	};

	for (size_t i = 0; i < TG_ARRAY_SIZE(names); i++)
		if (!strcmp(s, names[i]))
			return (int)i;
	return -1;
}

int tg_out_write(FILE *fp, const struct tg_report *r,
		 const struct tg_out_opts *opts)
{
	switch (opts->format) {
	case TG_FORMAT_TEXT:
		return tg_out_text(fp, r, opts);
	case TG_FORMAT_JSON:
		return tg_out_json(fp, r, opts);
	case TG_FORMAT_SARIF:
		return tg_out_sarif(fp, r, opts);
	case TG_FORMAT_GITHUB:
		return tg_out_github(fp, r, opts);
	}
	BUG("unsupported format %d", (int)opts->format);
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
