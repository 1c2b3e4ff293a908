#include "txguard/common.h"
#include "txguard/buf.h"
#include "txguard/finding.h"
#include "txguard/fingerprint.h"
#include "txguard/hash.h"

static bool is_word(unsigned char c)
{
	return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || c >= 0x80;
}

/*
 * Copy a string literal starting at s[i] (a quote) verbatim; return its
 * end. An unterminated one runs to the end of the text, even across a
 * newline, so that normalising twice changes nothing.
 */
static size_t copy_string(struct tg_buf *b, const char *s, size_t len,
			  size_t i)
{
	char q = s[i];
	bool triple = i + 2 < len && s[i + 1] == q && s[i + 2] == q;
	size_t j = i + (triple ? 3 : 1);

	while (j < len) {
		if (s[j] == '\\' && j + 1 < len) {
			j += 2;
			continue;
		}
		if (s[j] == q) {
			if (!triple) {
				j++;
				break;
			}
			if (j + 2 < len && s[j + 1] == q && s[j + 2] == q) {
				j += 3;
				break;
			}
		}
		j++;
	}
	tg_buf_add(b, s + i, j - i);
	return j;
}

char *tg_fingerprint_normalize(const char *text, size_t len)
{
	struct tg_buf b = TG_BUF_INIT;
	bool pending_space = false;
	size_t i = 0;

	/* Comments and whitespace folded, string literals kept as written */
	while (i < len) {
		unsigned char c = (unsigned char)text[i];

		if (c == '#') {
			while (i < len && text[i] != '\n')
				i++;
			pending_space = true;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		    c == '\f' || c == '\v' ||
		    (c == '\\' && i + 1 < len &&
		     (text[i + 1] == '\n' || text[i + 1] == '\r'))) {
			pending_space = true;
			i++;
			continue;
		}
		if (pending_space && b.len &&
		    is_word((unsigned char)b.ptr[b.len - 1]) &&
		    (is_word(c) || c == '"' || c == '\''))
			tg_buf_addch(&b, ' ');
		pending_space = false;
		if (c == '"' || c == '\'') {
			i = copy_string(&b, text, len, i);
			continue;
		}
		tg_buf_addch(&b, c);
		i++;
	}
	return tg_buf_detach(&b, NULL);
}

static uint64_t hash_str(uint64_t h, const char *s)
{
	/* the terminating NUL separates fields: ("ab","c") != ("a","bc") */
	return tg_hash_fnv1a(h, s ? s : "", strlen(s ? s : "") + 1);
}

struct ident {
	uint64_t h;
	size_t idx;
};

static int cmp_ident(const void *a_, const void *b_)
{
	const struct ident *a = a_, *b = b_;

	if (a->h != b->h)
		return a->h < b->h ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

void tg_fingerprint_assign(struct tg_findings *list, size_t from)
{
	size_t n = list->nr - from;
	struct ident *ids;

	if (!n)
		return;
	ids = tg_xmalloc(n * sizeof(*ids));
	for (size_t i = 0; i < n; i++) {
		struct tg_finding *f = &list->v[from + i];
		uint64_t h = TG_HASH_FNV_OFFSET;

		if (!f->path)
			f->path = tg_xstrdup("");
		if (!f->unit)
			f->unit = tg_xstrdup("<module>");
		if (!f->call_text)
			f->call_text = tg_xstrdup("");
		h = hash_str(h, f->rule ? f->rule->id : "");
		h = hash_str(h, f->path);
		h = hash_str(h, f->unit);
		h = hash_str(h, f->call_text);
		h = hash_str(h, f->owner_text);
		ids[i].h = h;
		ids[i].idx = from + i;
	}
	/*
	 * The occurrence index counts otherwise identical findings in
	 * source order; sorting by identity keeps that O(n log n).
	 */
	if (n > 1)
		qsort(ids, n, sizeof(*ids), cmp_ident);
	for (size_t i = 0; i < n; i++) {
		struct tg_finding *f = &list->v[ids[i].idx];
		char occ[32];
		uint64_t h;

		f->occurrence = i && ids[i - 1].h == ids[i].h ?
					list->v[ids[i - 1].idx].occurrence + 1 :
					0;
		snprintf(occ, sizeof(occ), "%u", f->occurrence);
		h = hash_str(ids[i].h, occ);
		snprintf(f->fingerprint, sizeof(f->fingerprint), "%016llx",
			 (unsigned long long)h);
	}
	free(ids);
}
