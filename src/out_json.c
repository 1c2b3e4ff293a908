/*
 * JSON output: {"version": 1, "findings": [...], "summary": {...}}.
 * Fields may be added; none is renamed or removed without a version bump.
 * jansson does the escaping; paths that are not valid UTF-8 are written
 * with each invalid byte as U+FFFD.
 */
#include "txguard/common.h"
#include "txguard/error.h"
#include "txguard/out.h"
#include "txguard/out_render.h"
#include "txguard/report.h"

#include <jansson.h>

#ifndef TG_VERSION
#define TG_VERSION "unknown"
#endif

static json_t *finding_json(const struct tg_finding *f)
{
	json_t *o = json_object();

	json_object_set_new(o, "rule", json_string(f->rule->id));
	json_object_set_new(o, "rule_name", json_string(f->rule->name));
	json_object_set_new(o, "severity",
			    json_string(tg_severity_name(f->severity)));
	json_object_set_new(o, "path", tg_out_json_string(f->path));
	json_object_set_new(o, "line", json_integer(f->line));
	json_object_set_new(o, "column", json_integer(f->column));
	json_object_set_new(o, "end_line", json_integer(f->end_line));
	json_object_set_new(o, "end_column", json_integer(f->end_column));
	json_object_set_new(o, "unit", tg_out_json_string(f->unit));
	json_object_set_new(o, "message", tg_out_json_string(f->message));
	json_object_set_new(o, "help", tg_out_json_string(f->help));
	json_object_set_new(o, "owner", tg_out_json_string(f->owner));
	json_object_set_new(o, "call", tg_out_json_string(f->call_text));
	json_object_set_new(o, "fingerprint", json_string(f->fingerprint));
	json_object_set_new(o, "status", json_string(tg_out_status_name(f->status)));
	return o;
}

static json_t *summary_json(const struct tg_report *r)
{
	json_t *o = json_object(), *sev = json_object(), *skip = json_object();
	json_t *notices = json_array();
	static const enum tg_severity order[] = {
		TG_SEV_CRITICAL, TG_SEV_HIGH, TG_SEV_MEDIUM, TG_SEV_LOW,
	};

	for (size_t i = 0; i < TG_ARRAY_SIZE(order); i++)
		json_object_set_new(sev, tg_severity_name(order[i]),
				    json_integer((json_int_t)r->new_by_sev[order[i]]));
	json_object_set_new(skip, "deleted", json_integer((json_int_t)r->skipped.deleted));
	json_object_set_new(skip, "submodule", json_integer((json_int_t)r->skipped.submodule));
	json_object_set_new(skip, "symlink", json_integer((json_int_t)r->skipped.symlink));
	json_object_set_new(skip, "binary", json_integer((json_int_t)r->skipped.binary));
	json_object_set_new(skip, "too_large", json_integer((json_int_t)r->skipped.too_large));
	json_object_set_new(skip, "not_python", json_integer((json_int_t)r->skipped.not_python));
	json_object_set_new(skip, "too_complex", json_integer((json_int_t)r->skipped.too_complex));
	json_object_set_new(skip, "not_selected", json_integer((json_int_t)(r->not_selected + r->skipped.not_selected)));
	for (size_t i = 0; i < r->nnotices; i++)
		json_array_append_new(notices, tg_out_json_string(r->notices[i]));

	json_object_set_new(o, "new", json_integer((json_int_t)r->nnew));
	json_object_set_new(o, "new_by_severity", sev);
	json_object_set_new(o, "pre_existing", json_integer((json_int_t)r->npreexisting));
	json_object_set_new(o, "baselined", json_integer((json_int_t)r->nbaselined));
	json_object_set_new(o, "suppressed", json_integer((json_int_t)r->nsuppressed));
	json_object_set_new(o, "files_checked", json_integer((json_int_t)r->files_checked));
	json_object_set_new(o, "units_checked", json_integer((json_int_t)r->units_checked));
	json_object_set_new(o, "partial_files", json_integer((json_int_t)r->partial_files));
	json_object_set_new(o, "prefiltered_files", json_integer((json_int_t)r->prefiltered));
	json_object_set_new(o, "skipped", skip);
	json_object_set_new(o, "notices", notices);
	json_object_set_new(o, "compared", tg_out_json_string(r->describe));
	json_object_set_new(o, "fail_on", json_string(tg_severity_name(r->fail_on)));
	json_object_set_new(o, "blocked", json_boolean(r->blocked));
	return o;
}

static json_t *nth_finding(void *ctx, size_t i)
{
	const struct tg_report *r = ctx;

	return finding_json(&r->findings.v[i]);
}

int tg_out_json(FILE *fp, const struct tg_report *r,
		const struct tg_out_opts *opts)
{
	json_t *root = json_object();

	/*
	 * Every finding is listed with its status, new or not: a machine
	 * reader filters; --all only widens the text output.
	 */
	(void)opts;
	json_object_set_new(root, "version", json_integer(1));
	json_object_set_new(root, "tool", json_string("txguard"));
	json_object_set_new(root, "tool_version", json_string(TG_VERSION));
	json_object_set_new(root, "findings", json_null());
	json_object_set_new(root, "summary", summary_json(r));
	return tg_out_json_stream(fp, root, root, "findings", nth_finding,
				  (void *)r, r->findings.nr, "JSON");
}
