/*
 * GitLab code-quality report (the artifacts:reports:codequality format):
 * a JSON array, one object a finding, with description, check_name,
 * fingerprint, severity (info, minor, major, critical or blocker) and
 * location.path / location.lines.begin. Paths are repository-relative.
 * New findings only, every finding with --all: GitLab compares the
 * report of the merge request with the target branch's itself.
 */
#include "txguard/common.h"
#include "txguard/error.h"
#include "txguard/out.h"
#include "txguard/out_render.h"
#include "txguard/report.h"

#include <jansson.h>

static const char *gitlab_severity(enum tg_severity s)
{
	switch (s) {
	case TG_SEV_CRITICAL: return "critical";
	case TG_SEV_HIGH: return "major";
	case TG_SEV_MEDIUM: return "minor";
	default: return "info";
	}
}

static json_t *issue(const struct tg_finding *f)
{
	json_t *o = json_object(), *loc = json_object(), *lines = json_object();
	char *desc = tg_xasprintf("%s %s", f->rule->id,
				  f->message ? f->message : f->rule->summary);

	json_object_set_new(o, "description", tg_out_json_string(desc));
	free(desc);
	json_object_set_new(o, "check_name", json_string(f->rule->id));
	json_object_set_new(o, "fingerprint", json_string(f->fingerprint));
	json_object_set_new(o, "severity",
			    json_string(gitlab_severity(f->severity)));
	json_object_set_new(loc, "path", tg_out_json_string(f->path));
	json_object_set_new(lines, "begin", json_integer(f->line ? f->line : 1));
	json_object_set_new(loc, "lines", lines);
	json_object_set_new(o, "location", loc);
	return o;
}

int tg_out_gitlab(FILE *fp, const struct tg_report *r,
		  const struct tg_out_opts *opts)
{
	bool ok = fputc('[', fp) != EOF;
	size_t n = 0;

	for (size_t i = 0; ok && i < r->findings.nr; i++) {
		const struct tg_finding *f = &r->findings.v[i];
		json_t *j;
		char *s;

		if (f->status != TG_STATUS_NEW && !opts->all)
			continue;
		j = issue(f);
		s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		json_decref(j);
		ok = s && fprintf(fp, "%s\n", n++ ? "," : "") >= 0 &&
		     fputs(s, fp) >= 0;
		free(s);
	}
	if (ok)
		ok = fputs(n ? "\n]\n" : "]\n", fp) >= 0;
	if (!ok)
		return tg_error_set(TG_EIO, "cannot write the GitLab report");
	return 0;
}
