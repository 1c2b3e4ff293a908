/*
 * SARIF 2.1.0 output. Every finding is a result, whatever its
 * status: baselined, pre-existing and suppressed ones carry a
 * `suppressions` entry, so a code-scanning service keeps one alert per
 * fingerprint instead of closing and reopening it from run to run.
 * Columns are byte columns (txguard counts bytes), 1-based.
 */
#include "txguard/common.h"
#include "txguard/buf.h"
#include "txguard/error.h"
#include "txguard/out.h"
#include "txguard/out_render.h"
#include "txguard/report.h"
#include "txguard/rules.h"

#include <jansson.h>

#ifndef TG_VERSION
#define TG_VERSION "unknown"
#endif

#define SARIF_SCHEMA "https://json.schemastore.org/sarif-2.1.0.json"
#define SRCROOT "%SRCROOT%"

/* SARIF wants a string wherever there is text: NULL is "" */
static json_t *str(const char *s)
{
	return tg_out_json_string(s ? s : "");
}

/*
 * A relative URI reference for a repository path (RFC 3986 §3.3): bytes
 * outside unreserved, '/' and a few sub-delims are percent-encoded,
 * including ':' (a first segment with ':' would read as a scheme), '%',
 * '#', '?', spaces, controls and every byte >= 0x80.
 */
static json_t *path_uri(const char *path)
{
	struct tg_buf b = TG_BUF_INIT;
	json_t *j;

	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		unsigned char c = *p;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || strchr("-._~/!$&'()*+,;=@", c))
			tg_buf_addch(&b, c);
		else
			tg_buf_addf(&b, "%%%02X", c);
	}
	j = json_string(b.ptr);
	tg_buf_release(&b);
	return j;
}

static const char *level(enum tg_severity s)
{
	switch (s) {
	case TG_SEV_CRITICAL:
	case TG_SEV_HIGH:
		return "error";
	case TG_SEV_MEDIUM:
		return "warning";
	default:
		return "note";
	}
}

static json_t *text(const char *s)
{
	json_t *o = json_object();

	json_object_set_new(o, "text", str(s));
	return o;
}

static json_t *rule_json(const struct tg_rule *rule)
{
	json_t *o = json_object(), *help = json_object(), *props = json_object();
	json_t *conf = json_object(), *tags = json_array();
	char *md;

	json_object_set_new(o, "id", json_string(rule->id));
	json_object_set_new(o, "name", json_string(rule->name));
	json_object_set_new(o, "shortDescription", text(rule->summary));
	json_object_set_new(o, "fullDescription", text(rule->summary));
	/* the explain text is laid out for a terminal: keep it as is */
	md = tg_xasprintf("```text\n%s\n```\n", rule->explain);
	json_object_set_new(help, "text", str(rule->explain));
	json_object_set_new(help, "markdown", str(md));
	free(md);
	json_object_set_new(o, "help", help);
	json_object_set_new(conf, "level", json_string(level(rule->severity)));
	json_object_set_new(o, "defaultConfiguration", conf);
	json_array_append_new(tags, json_string("correctness"));
	json_array_append_new(tags, json_string("sqlalchemy"));
	json_array_append_new(tags, json_string("transactions"));
	json_object_set_new(props, "tags", tags);
	json_object_set_new(props, "precision", json_string("high"));
	/* GitHub's non-security severity */
	json_object_set_new(props, "problem.severity",
			    json_string(rule->severity >= TG_SEV_HIGH ? "error" :
					rule->severity == TG_SEV_MEDIUM ?
						"warning" : "recommendation"));
	json_object_set_new(props, "txguard/severity",
			    json_string(tg_severity_name(rule->severity)));
	json_object_set_new(o, "properties", props);
	return o;
}

static json_t *suppression(const struct tg_finding *f)
{
	json_t *o = json_object();
	const char *kind = "external", *why;

	switch (f->status) {
	case TG_STATUS_BASELINED:
		why = "listed in the txguard baseline (existing debt)";
		break;
	case TG_STATUS_PREEXISTING:
		why = "pre-existing: the finding was there before this change";
		break;
	case TG_STATUS_SUPPRESSED:
		kind = "inSource";
		why = "suppressed by a txguard: ignore or noqa comment";
		break;
	default:
		json_decref(o);
		return NULL;
	}
	json_object_set_new(o, "kind", json_string(kind));
	json_object_set_new(o, "status", json_string("accepted"));
	json_object_set_new(o, "justification", json_string(why));
	return o;
}

static json_t *result_json(const struct tg_finding *f, size_t rule_index)
{
	json_t *o = json_object(), *loc = json_object(), *phys = json_object();
	json_t *art = json_object(), *locs = json_array(), *fp = json_object();
	json_t *props = json_object(), *sup, *logical;
	struct tg_buf msg = TG_BUF_INIT;

	json_object_set_new(o, "ruleId", json_string(f->rule->id));
	json_object_set_new(o, "ruleIndex", json_integer((json_int_t)rule_index));
	json_object_set_new(o, "level", json_string(level(f->severity)));
	tg_buf_addstr(&msg, f->message ? f->message : f->rule->summary);
	if (f->help && *f->help)
		tg_buf_addf(&msg, "\nhelp: %s", f->help);
	json_object_set_new(o, "message", text(msg.ptr));
	tg_buf_release(&msg);

	json_object_set_new(art, "uri", path_uri(f->path ? f->path : ""));
	json_object_set_new(art, "uriBaseId", json_string(SRCROOT));
	json_object_set_new(phys, "artifactLocation", art);
	if (f->line >= 1) {
		json_t *region = json_object();

		json_object_set_new(region, "startLine", json_integer(f->line));
		if (f->column >= 1)
			json_object_set_new(region, "startColumn",
					    json_integer(f->column));
		if (f->end_line >= f->line) {
			json_object_set_new(region, "endLine",
					    json_integer(f->end_line));
			if (f->end_column >= 1)
				json_object_set_new(region, "endColumn",
						    json_integer(f->end_column));
		}
		json_object_set_new(phys, "region", region);
	}
	json_object_set_new(loc, "physicalLocation", phys);
	if (f->unit && *f->unit) {
		json_t *l = json_object();

		logical = json_array();
		json_object_set_new(l, "fullyQualifiedName", str(f->unit));
		json_array_append_new(logical, l);
		json_object_set_new(loc, "logicalLocations", logical);
	}
	json_array_append_new(locs, loc);
	json_object_set_new(o, "locations", locs);

	json_object_set_new(fp, "txguard/v1", json_string(f->fingerprint));
	json_object_set_new(o, "partialFingerprints", fp);
	sup = suppression(f);
	if (sup) {
		json_t *a = json_array();

		json_array_append_new(a, sup);
		json_object_set_new(o, "suppressions", a);
	}
	json_object_set_new(props, "status", json_string(tg_out_status_name(f->status)));
	json_object_set_new(props, "severity",
			    json_string(tg_severity_name(f->severity)));
	json_object_set_new(props, "unit", str(f->unit));
	json_object_set_new(props, "call", str(f->call_text));
	if (f->owner)
		json_object_set_new(props, "owner", str(f->owner));
	json_object_set_new(o, "properties", props);
	return o;
}

static json_t *nth_result(void *ctx, size_t i)
{
	const struct tg_report *r = ctx;
	const struct tg_finding *f = &r->findings.v[i];
	const struct tg_rule *all;
	size_t nrules, idx = 0;

	all = tg_rules_all(&nrules);
	for (size_t k = 0; k < nrules; k++)
		if (!strcmp(all[k].id, f->rule->id))
			idx = k;
	return result_json(f, idx);
}

int tg_out_sarif(FILE *fp, const struct tg_report *r,
		 const struct tg_out_opts *opts)
{
	json_t *root = json_object(), *run = json_object(), *tool = json_object();
	json_t *driver = json_object(), *rules = json_array();
	json_t *inv = json_object(), *bases = json_object(), *srcroot = json_object();
	json_t *notes = json_array(), *runs = json_array(), *invs = json_array();
	const struct tg_rule *all;
	size_t nrules;

	/* machine output: every finding, --all or not */
	(void)opts;
	all = tg_rules_all(&nrules);
	for (size_t i = 0; i < nrules; i++)
		json_array_append_new(rules, rule_json(&all[i]));
	json_object_set_new(driver, "name", json_string("txguard"));
	json_object_set_new(driver, "version", json_string(TG_VERSION));
	json_object_set_new(driver, "semanticVersion", json_string(TG_VERSION));
	json_object_set_new(driver, "rules", rules);
	json_object_set_new(tool, "driver", driver);
	json_object_set_new(run, "tool", tool);

	json_object_set_new(srcroot, "description",
			    text("the root of the git repository checked"));
	json_object_set_new(bases, SRCROOT, srcroot);
	json_object_set_new(run, "originalUriBaseIds", bases);

	json_object_set_new(inv, "executionSuccessful", json_true());
	for (size_t i = 0; i < r->nnotices; i++) {
		json_t *n = json_object();

		json_object_set_new(n, "level", json_string("note"));
		json_object_set_new(n, "message", text(r->notices[i]));
		json_array_append_new(notes, n);
	}
	json_object_set_new(inv, "toolExecutionNotifications", notes);
	json_array_append_new(invs, inv);
	json_object_set_new(run, "invocations", invs);

	json_object_set_new(run, "results", json_null());
	json_array_append_new(runs, run);

	json_object_set_new(root, "$schema", json_string(SARIF_SCHEMA));
	json_object_set_new(root, "version", json_string("2.1.0"));
	json_object_set_new(root, "runs", runs);
	return tg_out_json_stream(fp, root, run, "results", nth_result,
				  (void *)r, r->findings.nr, "SARIF");
}
