/*
 * out.c: the format names and the one switch over the writers.
 */
#include "txguard/common.h"
#include "txguard/error.h"
#include "txguard/out.h"

static const char *const names[] = {
	[TG_FORMAT_TEXT] = "text",
	[TG_FORMAT_CONCISE] = "concise",
	[TG_FORMAT_JSON] = "json",
	[TG_FORMAT_SARIF] = "sarif",
	[TG_FORMAT_GITHUB] = "github",
	[TG_FORMAT_GITLAB] = "gitlab",
};

int tg_format_parse(const char *s)
{
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
	case TG_FORMAT_CONCISE:
		return tg_out_concise(fp, r, opts);
	case TG_FORMAT_JSON:
		return tg_out_json(fp, r, opts);
	case TG_FORMAT_SARIF:
		return tg_out_sarif(fp, r, opts);
	case TG_FORMAT_GITHUB:
		return tg_out_github(fp, r, opts);
	case TG_FORMAT_GITLAB:
		return tg_out_gitlab(fp, r, opts);
	}
	BUG("unsupported format %d", (int)opts->format);
}
