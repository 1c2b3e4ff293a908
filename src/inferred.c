#include "txguard/common.h"
#include "txguard/buf.h"
#include "txguard/error.h"
#include "txguard/infer.h"
#include "txguard/inferred.h"

/* ---- encoding --------------------------------------------------------- */

static void put_varint(struct tg_buf *b, uint32_t v)
{
	while (v >= 0x80) {
		tg_buf_addch(b, (int)(v & 0x7f) | 0x80);
		v >>= 7;
	}
	tg_buf_addch(b, (int)v);
}

static void put_str(struct tg_buf *b, const char *s)
{
	if (s)
		tg_buf_addstr(b, s);
	tg_buf_addch(b, 0);
}

void tg_inferred_encode(struct tg_buf *out, const struct tg_inferred *inf,
			unsigned flags)
{
	flags &= TG_INFER_INCOMPLETE;
	for (size_t i = 0; i < inf->ndefs; i++)
		if (inf->defs[i].kind != TG_DEF_INSTANCE)
			flags |= TG_INFER_HAS_DEFS;
	if (inf->nuses)
		flags |= TG_INFER_HAS_USES;
	tg_buf_addch(out, (int)flags);
	put_varint(out, (uint32_t)inf->nimports);
	for (size_t i = 0; i < inf->nimports; i++) {
		put_str(out, inf->imports[i].local);
		put_str(out, inf->imports[i].fqn);
	}
	put_varint(out, (uint32_t)inf->ndefs);
	for (size_t i = 0; i < inf->ndefs; i++) {
		const struct tg_def *d = &inf->defs[i];

		tg_buf_addch(out, d->kind);
		tg_buf_addch(out, d->owns);
		put_varint(out, d->line);
		put_str(out, d->name);
		put_str(out, d->qualname);
		put_str(out, d->target);
		put_str(out, d->how);
		put_str(out, d->param);
		put_varint(out, (uint32_t)(d->param_index + 1));
		put_str(out, d->arg);
		put_str(out, d->guard);
	}
	put_varint(out, (uint32_t)inf->nuses);
	for (size_t i = 0; i < inf->nuses; i++)
		put_str(out, inf->uses[i]);
	put_varint(out, (uint32_t)inf->nlocals);
	for (size_t i = 0; i < inf->nlocals; i++)
		put_str(out, inf->locals[i]);
}

/* ---- decoding --------------------------------------------------------- */

struct reader {
	const unsigned char *p, *end;
	bool bad;
};

static uint32_t get_varint(struct reader *r)
{
	uint32_t v = 0;

	for (int shift = 0; shift < 35; shift += 7) {
		if (r->p >= r->end) {
			r->bad = true;
			return 0;
		}
		v |= (uint32_t)(*r->p & 0x7f) << shift;
		if (!(*r->p++ & 0x80))
			return v;
	}
	r->bad = true;
	return 0;
}

static uint8_t get_u8(struct reader *r)
{
	if (r->p >= r->end) {
		r->bad = true;
		return 0;
	}
	return *r->p++;
}

/* Offset of a NUL-terminated string in the record; advances. */
static size_t get_str(struct reader *r, const unsigned char *base)
{
	const unsigned char *nul;
	size_t off = (size_t)(r->p - base);

	if (r->bad || r->p >= r->end ||
	    !(nul = memchr(r->p, 0, (size_t)(r->end - r->p)))) {
		r->bad = true;
		return 0;
	}
	r->p = nul + 1;
	return off;
}

/* Resolve "..db.x" against the module of the file (PEP 328). */
static char *resolve_relative(const char *module, bool is_pkg,
			      const char *rel)
{
	size_t dots = 0, mlen = strlen(module);
	const char *rest;

	while (rel[dots] == '.')
		dots++;
	rest = rel + dots;
	if (!is_pkg) { /* a module's package is its parent */
		while (mlen && module[mlen - 1] != '.')
			mlen--;
		if (mlen)
			mlen--;
	}
	for (size_t i = 1; i < dots; i++) {
		while (mlen && module[mlen - 1] != '.')
			mlen--;
		if (mlen)
			mlen--;
	}
	if (!mlen)
		return tg_xstrdup(rest);
	if (!*rest)
		return tg_xstrndup(module, mlen);
	return tg_xasprintf("%.*s.%s", (int)mlen, module, rest);
}

static bool is_init(const char *path)
{
	size_t l = strlen(path);

	return (l >= 11 && !strcmp(path + l - 11, "__init__.py")) ||
	       (l >= 12 && !strcmp(path + l - 12, "__init__.pyi"));
}

int tg_inferred_decode(struct tg_inferred **out, const char *path,
		       const void *data, size_t len)
{
	struct tg_inferred *inf = tg_xcalloc(1, sizeof(*inf));
	struct reader r;
	size_t *offs = NULL, noffs = 0, alloc_offs = 0;
	unsigned char *base;
	uint32_t n;

	*out = NULL;
	inf->path = tg_xstrdup(path);
	inf->module = tg_infer_module(path);
	if (!len) {
		*out = inf;
		return 0;
	}
	inf->strs = tg_xmalloc(len);
	memcpy(inf->strs, data, len);
	base = (unsigned char *)inf->strs;
	r.p = base;
	r.end = base + len;
	r.bad = false;
	get_u8(&r);

	n = get_varint(&r);
	if (n > len)
		goto bad;
	inf->imports = tg_xcalloc(n ? n : 1, sizeof(*inf->imports));
	inf->nimports = n;
	for (uint32_t i = 0; i < n && !r.bad; i++) {
		size_t l = get_str(&r, base), f = get_str(&r, base);

		if (r.bad)
			goto bad;
		inf->imports[i].local = (char *)base + l;
		inf->imports[i].fqn = (char *)base + f;
		if (base[f] == '.') {
			TG_ALLOC_GROW(offs, noffs + 2, alloc_offs);
			offs[noffs++] = i;
			offs[noffs++] = 0;
		}
	}
	n = get_varint(&r);
	if (r.bad || n > len)
		goto bad;
	inf->defs = tg_xcalloc(n ? n : 1, sizeof(*inf->defs));
	inf->ndefs = n;
	for (uint32_t i = 0; i < n; i++) {
		struct tg_def *d = &inf->defs[i];
		size_t a, b2, t, h, pa, ar, g;

		d->kind = get_u8(&r);
		d->owns = get_u8(&r) != 0;
		d->line = get_varint(&r);
		a = get_str(&r, base);
		b2 = get_str(&r, base);
		t = get_str(&r, base);
		h = get_str(&r, base);
		pa = get_str(&r, base);
		d->param_index = (int32_t)get_varint(&r) - 1;
		ar = get_str(&r, base);
		g = get_str(&r, base);
		if (r.bad || d->kind < TG_DEF_CM || d->kind > TG_DEF_DECORATOR)
			goto bad;
		d->name = (char *)base + a;
		d->qualname = (char *)base + b2;
		d->target = base[t] ? (char *)base + t : NULL;
		d->how = base[h] ? (char *)base + h : NULL;
		d->param = base[pa] ? (char *)base + pa : NULL;
		d->arg = base[ar] ? (char *)base + ar : NULL;
		d->guard = base[g] ? (char *)base + g : NULL;
	}
	for (int pass = 0; pass < 2; pass++) {
		const char ***v = pass ? &inf->locals : &inf->uses;
		size_t *nr = pass ? &inf->nlocals : &inf->nuses;

		n = get_varint(&r);
		if (r.bad || n > len)
			goto bad;
		*v = tg_xcalloc(n ? n : 1, sizeof(**v));
		*nr = n;
		for (uint32_t i = 0; i < n; i++) {
			size_t s = get_str(&r, base);

			if (r.bad)
				goto bad;
			(*v)[i] = (char *)base + s;
		}
	}
	if (r.p != r.end)
		goto bad;
	if (noffs) {
		/* resolved relative imports are appended to the arena */
		struct tg_buf all = TG_BUF_INIT;
		char *newstrs;
		size_t *pos = tg_xmalloc(noffs / 2 * sizeof(*pos));

		tg_buf_add(&all, inf->strs, len);
		for (size_t k = 0; k < noffs; k += 2) {
			char *res = resolve_relative(
				inf->module, is_init(path),
				inf->imports[offs[k]].fqn);

			pos[k / 2] = all.len;
			tg_buf_add(&all, res, strlen(res) + 1);
			free(res);
		}
		newstrs = tg_buf_detach(&all, NULL);
		/* move every pointer into the new arena */
#define REBASE(p) ((p) = (p) ? newstrs + ((const char *)(p) - inf->strs) : NULL)
		for (size_t i = 0; i < inf->nimports; i++) {
			REBASE(inf->imports[i].local);
			REBASE(inf->imports[i].fqn);
		}
		for (size_t i = 0; i < inf->ndefs; i++) {
			REBASE(inf->defs[i].name);
			REBASE(inf->defs[i].qualname);
			REBASE(inf->defs[i].target);
			REBASE(inf->defs[i].how);
			REBASE(inf->defs[i].param);
			REBASE(inf->defs[i].arg);
			REBASE(inf->defs[i].guard);
		}
		for (size_t i = 0; i < inf->nuses; i++)
			REBASE(inf->uses[i]);
		for (size_t i = 0; i < inf->nlocals; i++)
			REBASE(inf->locals[i]);
#undef REBASE
		for (size_t k = 0; k < noffs; k += 2)
			inf->imports[offs[k]].fqn = newstrs + pos[k / 2];
		free(pos);
		free(inf->strs);
		inf->strs = newstrs;
	}
	free(offs);
	*out = inf;
	return 0;
bad:
	free(offs);
	tg_inferred_free(inf);
	return tg_error_set(TG_EPARSE, "malformed inference record for '%s'",
			    path);
}

void tg_inferred_free(struct tg_inferred *inf)
{
	if (!inf)
		return;
	free(inf->path);
	free(inf->module);
	free(inf->imports);
	free(inf->defs);
	free(inf->uses);
	free(inf->locals);
	free(inf->strs);
	free(inf);
}

/* ---- changed definitions ---------------------------------------------- */

static bool same_str(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

static bool same_def(const struct tg_def *a, const struct tg_def *b)
{
	return a->kind == b->kind && a->owns == b->owns &&
	       !strcmp(a->qualname, b->qualname) &&
	       same_str(a->target, b->target) &&
	       same_str(a->param, b->param) &&
	       a->param_index == b->param_index &&
	       same_str(a->arg, b->arg) && same_str(a->guard, b->guard);
}

static void push_name(char ***names, size_t *nr, size_t *alloc,
		      const char *name)
{
	for (size_t i = 0; i < *nr; i++)
		if (!strcmp((*names)[i], name))
			return;
	TG_ALLOC_GROW(*names, *nr + 1, *alloc);
	(*names)[(*nr)++] = tg_xstrdup(name);
}

static void diff_defs(char ***names, size_t *nr, size_t *alloc,
		      const struct tg_inferred *a, const struct tg_inferred *b)
{
	for (size_t i = 0; a && i < a->ndefs; i++) {
		bool found = false;

		for (size_t k = 0; b && k < b->ndefs && !found; k++)
			found = same_def(&a->defs[i], &b->defs[k]);
		if (!found)
			push_name(names, nr, alloc, a->defs[i].name);
	}
}

/* The fully qualified name `local` is imported as in `inf`, or NULL. */
static const char *import_of(const struct tg_inferred *inf, const char *local)
{
	const char *fqn = NULL;

	/* the last import of a name is the one that binds it */
	for (size_t i = 0; inf && i < inf->nimports; i++)
		if (!strcmp(inf->imports[i].local, local))
			fqn = inf->imports[i].fqn;
	return fqn;
}

static void diff_imports(char ***names, size_t *nr, size_t *alloc,
			 const struct tg_inferred *a,
			 const struct tg_inferred *b)
{
	for (size_t i = 0; a && i < a->nimports; i++) {
		const char *local = a->imports[i].local;
		const char *fa = import_of(a, local), *fb = import_of(b, local);

		if (!fb || strcmp(fa, fb))
			push_name(names, nr, alloc, local);
	}
}

static bool has_local(const struct tg_inferred *inf, const char *name)
{
	for (size_t i = 0; inf && i < inf->nlocals; i++)
		if (!strcmp(inf->locals[i], name))
			return true;
	return false;
}

/* Whether dotted `s` is `name` or starts with it: "db", "db.x". */
static bool starts_with_name(const char *s, const char *name, size_t n)
{
	return s && !strncmp(s, name, n) && (!s[n] || s[n] == '.');
}

/*
 * Whether `inf` imports `name`, or uses it (alone or as first part; a
 * definition's target too).
 */
static bool binds_or_uses(const struct tg_inferred *inf, const char *name)
{
	size_t n = strlen(name);

	if (import_of(inf, name))
		return true;
	for (size_t i = 0; inf && i < inf->nuses; i++)
		if (starts_with_name(inf->uses[i], name, n))
			return true;
	for (size_t i = 0; inf && i < inf->ndefs; i++)
		if (starts_with_name(inf->defs[i].target, name, n))
			return true;
	return false;
}

/*
 * The locals of `a` that `b` lacks and that matter: one that shadowed
 * an import, or a name the file uses (without the local it may resolve
 * through the repository). Any other function or class that comes or
 * goes changes no name's meaning.
 */
static void diff_locals(char ***names, size_t *nr, size_t *alloc,
			const struct tg_inferred *a, const struct tg_inferred *b)
{
	for (size_t i = 0; a && i < a->nlocals; i++) {
		const char *l = a->locals[i];

		if (!has_local(b, l) &&
		    (binds_or_uses(a, l) || binds_or_uses(b, l)))
			push_name(names, nr, alloc, l);
	}
}

void tg_inferred_changed_bindings(char ***names, size_t *nr, size_t *alloc,
				  const char *path, const void *old_data,
				  size_t old_len, const void *new_data,
				  size_t new_len)
{
	struct tg_inferred *a = NULL, *b = NULL;

	if (tg_inferred_decode(&a, path, old_data, old_len) < 0)
		a = NULL;
	if (tg_inferred_decode(&b, path, new_data, new_len) < 0)
		b = NULL;
	diff_imports(names, nr, alloc, a, b);
	diff_imports(names, nr, alloc, b, a);
	diff_locals(names, nr, alloc, a, b);
	diff_locals(names, nr, alloc, b, a);
	tg_inferred_free(a);
	tg_inferred_free(b);
	tg_error_clear();
}

void tg_inferred_changed_names(char ***names, size_t *nr, size_t *alloc,
			       const void *old_data, size_t old_len,
			       const void *new_data, size_t new_len)
{
	struct tg_inferred *a = NULL, *b = NULL;

	/* a malformed side counts as empty: every definition changed */
	if (tg_inferred_decode(&a, "x.py", old_data, old_len) < 0)
		a = NULL;
	if (tg_inferred_decode(&b, "x.py", new_data, new_len) < 0)
		b = NULL;
	diff_defs(names, nr, alloc, a, b);
	diff_defs(names, nr, alloc, b, a);
	tg_inferred_free(a);
	tg_inferred_free(b);
	tg_error_clear();
}

bool tg_inferred_is_target(const char *path, const void *data, size_t len)
{
	const unsigned char *d = data;

	/* d[1] is the first byte of the import count: 0 for none */
	return len && ((d[0] & TG_INFER_HAS_DEFS) ||
		       (len > 1 && d[1] && tg_infer_is_package(path)));
}
