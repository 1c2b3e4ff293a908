#include "txguard/common.h"
#include "txguard/buf.h"
#include "txguard/error.h"
#include "txguard/infer.h"
#include "txguard/owners.h"
#include "txguard/pyparse.h"

#include <pthread.h>
#include <tree_sitter/api.h>

const TSLanguage *tree_sitter_python(void);

/*
 * Node symbols, looked up once: comparing numbers instead of type names
 * keeps the walk cheap on a cold build of a large repository (SPEC §12).
 */
enum {
	S_FUNC, S_CLASS, S_LAMBDA, S_WITH, S_WITH_ITEM, S_AS_PATTERN,
	S_EXCEPT, S_EXCEPT_GROUP, S_YIELD, S_CALL, S_ASSIGN, S_IDENT,
	S_ATTR, S_SUBSCRIPT, S_TYPED_PARAM, S_TYPED_DEFAULT, S_IMPORT,
	S_IMPORT_FROM, S_ALIASED_IMPORT, S_DOTTED, S_RELATIVE, S_PREFIX,
	S_DECORATED, S_DECORATOR, S_AS_TARGET, S_KEYWORD_ARG, S_TYPE,
	S_STRING, S_NSYM
};

static const char *const sym_names[S_NSYM] = {
	"function_definition", "class_definition", "lambda", "with_statement",
	"with_item", "as_pattern", "except_clause", "except_group_clause",
	"yield", "call", "assignment", "identifier", "attribute", "subscript",
	"typed_parameter", "typed_default_parameter", "import_statement",
	"import_from_statement", "aliased_import", "dotted_name",
	"relative_import", "import_prefix", "decorated_definition",
	"decorator", "as_pattern_target", "keyword_argument", "type",
	"string",
};

static TSSymbol syms[S_NSYM];
static pthread_once_t syms_once = PTHREAD_ONCE_INIT;

static void syms_init(void)
{
	const TSLanguage *lang = tree_sitter_python();

	for (int i = 0; i < S_NSYM; i++)
		syms[i] = ts_language_symbol_for_name(
			lang, sym_names[i], (uint32_t)strlen(sym_names[i]),
			true);
}

static bool is(TSNode n, int s)
{
	return !ts_node_is_null(n) && ts_node_symbol(n) == syms[s];
}

/* ---- small helpers ---------------------------------------------------- */

static bool has_token(const char *src, size_t len, const char *tok)
{
	return memmem(src, len, tok, strlen(tok)) != NULL;
}

/*
 * A `with` that starts a statement: only blanks (and `async`) before it
 * on its line, a blank or '(' after. Prose ("with the") in docstrings and
 * comments is most of the other hits, and every hit saved is a parse.
 */
static bool has_with_statement(const char *src, size_t len)
{
	const char *p = src, *end = src + len;

	while ((p = memmem(p, (size_t)(end - p), "with", 4))) {
		const char *b = p, *a = p + 4;

		if (a < end && (*a == ' ' || *a == '\t' || *a == '(' ||
				*a == '\\')) {
			while (b > src && (b[-1] == ' ' || b[-1] == '\t'))
				b--;
			if (b - src >= 5 && !memcmp(b - 5, "async", 5)) {
				b -= 5;
				while (b > src && (b[-1] == ' ' || b[-1] == '\t'))
					b--;
			}
			if (b == src || b[-1] == '\n' || b[-1] == ';' ||
			    b[-1] == ':')
				return true;
		}
		p += 4;
	}
	return false;
}

bool tg_infer_is_package(const char *path)
{
	size_t l = strlen(path);

	return l >= 11 && !strcmp(path + l - 11, "__init__.py") &&
	       (l == 11 || path[l - 12] == '/');
}

bool tg_infer_is_target(const char *path, const void *data, size_t len)
{
	const unsigned char *d = data;

	/* d[1] is the first byte of the import count: 0 for none */
	return len && ((d[0] & TG_INFER_HAS_DEFS) ||
		       (len > 1 && d[1] && tg_infer_is_package(path)));
}

bool tg_infer_wanted(const char *path, const char *src, size_t len)
{
	size_t plen = path ? strlen(path) : 0;

	/* re-exports live in __init__.py: keep their imports (SPEC §5) */
	if (plen >= 11 && !strcmp(path + plen - 11, "__init__.py"))
		return true;
	return has_token(src, len, "yield") ||
	       has_token(src, len, "sessionmaker") ||
	       has_token(src, len, "scoped_session") ||
	       has_token(src, len, "Depends") || has_with_statement(src, len);
}

char *tg_infer_module(const char *path)
{
	size_t len = strlen(path);
	char *m;

	if (len > 3 && !strcmp(path + len - 3, ".py"))
		len -= 3;
	else if (len > 4 && !strcmp(path + len - 4, ".pyi"))
		len -= 4;
	m = tg_xstrndup(path, len);
	for (char *p = m; *p; p++)
		if (*p == '/')
			*p = '.';
	if (!strcmp(m, "__init__"))
		m[0] = '\0';
	else if (len > 9 && !strcmp(m + len - 9, ".__init__"))
		m[len - 9] = '\0';
	return m;
}

/* The last dotted part of `s` (all of it when undotted). */
static const char *last_part(const char *s)
{
	const char *dot = strrchr(s, '.');

	return dot ? dot + 1 : s;
}

/*
 * A dotted name as written, whitespace dropped; NULL unless it is only
 * identifiers and dots (a call result or subscript is not a name).
 */
static char *dotted_text(const struct tg_pyfile *py, TSNode n)
{
	uint32_t s, e;
	char *out, *o;

	if (!is(n, S_IDENT) && !is(n, S_ATTR))
		return NULL;
	s = ts_node_start_byte(n);
	e = ts_node_end_byte(n);
	if (e <= s || e - s > 512)
		return NULL;
	out = o = tg_xmalloc(e - s + 1);
	for (uint32_t i = s; i < e; i++) {
		char c = py->src[i];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		    c == '\\' || c == '(' || c == ')')
			continue;
		if (c != '.' && c != '_' && !(c >= '0' && c <= '9') &&
		    !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    !((unsigned char)c & 0x80)) {
			free(out);
			return NULL;
		}
		*o++ = c;
	}
	*o = '\0';
	if (!out[0] || out[0] == '.' || o[-1] == '.') {
		free(out);
		return NULL;
	}
	return out;
}

static char *node_str(const struct tg_pyfile *py, TSNode n)
{
	return tg_xstrndup(py->src + ts_node_start_byte(n),
			   ts_node_end_byte(n) - ts_node_start_byte(n));
}

/* The node's text without whitespace or line continuations. */
static char *squeeze(const struct tg_pyfile *py, TSNode n)
{
	char *t = node_str(py, n), *o = t;

	for (char *p = t; *p; p++)
		if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' &&
		    *p != '\\')
			*o++ = *p;
	*o = '\0';
	return t;
}

struct strvec {
	char **v;
	size_t nr, alloc;
};

static void sv_push(struct strvec *sv, char *s)
{
	TG_ALLOC_GROW(sv->v, sv->nr + 1, sv->alloc);
	sv->v[sv->nr++] = s;
}

static bool sv_has(const struct strvec *sv, const char *s)
{
	for (size_t i = 0; i < sv->nr; i++)
		if (!strcmp(sv->v[i], s))
			return true;
	return false;
}

static void sv_release(struct strvec *sv)
{
	for (size_t i = 0; i < sv->nr; i++)
		free(sv->v[i]);
	free(sv->v);
	memset(sv, 0, sizeof(*sv));
}

/* ---- collection ------------------------------------------------------- */

struct namepos {
	char *name;
	uint32_t pos;
};

struct func {
	char *name, *qualname;
	uint32_t line;
	struct strvec decos;
	bool has_yield, owns;
	char *how;
	char *wraps;
	struct namepos *yields, *commits;
	size_t nyields, alloc_yields, ncommits, alloc_commits;
};

struct assign {
	char *name, *qualname;
	uint32_t line;
	char *callee; /* right side call, or NULL */
	char *depends; /* Annotated[..., Depends(X)]: X */
};

enum fkind { F_FUNC, F_CLASS, F_LAMBDA, F_WITH, F_EXCEPT };

struct frame {
	const void *id;
	enum fkind kind;
	char *qual;      /* F_CLASS / F_FUNC: qualname */
	long func;       /* F_FUNC: index in funcs, -1 when not recorded */
	struct strvec own;   /* F_WITH: names the block owns */
	struct strvec owner; /* F_WITH: owner text per own[] entry */
	struct strvec alias, callee; /* F_WITH: `X(...) as alias` pairs */
};

struct collect {
	const struct tg_pyfile *py;
	struct strvec imp_local, imp_fqn;
	struct func *funcs;
	size_t nfuncs, alloc_funcs;
	struct assign *assigns;
	size_t nassigns, alloc_assigns;
	struct strvec uses, locals;
	struct frame *frames;
	size_t nframes, alloc_frames;
};

static struct frame *push(struct collect *c, TSNode n, enum fkind kind)
{
	struct frame *f;

	TG_ALLOC_GROW(c->frames, c->nframes + 1, c->alloc_frames);
	f = &c->frames[c->nframes++];
	memset(f, 0, sizeof(*f));
	f->id = n.id;
	f->kind = kind;
	f->func = -1;
	return f;
}

static void frame_release(struct frame *f)
{
	free(f->qual);
	sv_release(&f->own);
	sv_release(&f->owner);
	sv_release(&f->alias);
	sv_release(&f->callee);
}

/* The innermost function/class/lambda frame, or NULL at module level. */
static struct frame *scope(struct collect *c, size_t *at)
{
	for (size_t i = c->nframes; i-- > 0;) {
		if (c->frames[i].kind == F_FUNC || c->frames[i].kind == F_CLASS ||
		    c->frames[i].kind == F_LAMBDA) {
			if (at)
				*at = i;
			return &c->frames[i];
		}
	}
	return NULL;
}

/* Module level or a class body nested only in classes. */
static bool at_definition_level(struct collect *c)
{
	for (size_t i = 0; i < c->nframes; i++)
		if (c->frames[i].kind == F_FUNC ||
		    c->frames[i].kind == F_LAMBDA)
			return false;
	return true;
}

static char *qual_join(struct collect *c, const char *name)
{
	struct frame *s = scope(c, NULL);

	if (!s || !s->qual)
		return tg_xstrdup(name);
	return tg_xasprintf("%s.%s", s->qual, name);
}

static void add_use(struct collect *c, char *text)
{
	if (!text)
		return;
	if (sv_has(&c->uses, text)) {
		free(text);
		return;
	}
	sv_push(&c->uses, text);
}

static void add_local(struct collect *c, const char *name)
{
	if (!sv_has(&c->locals, name))
		sv_push(&c->locals, tg_xstrdup(name));
}

static void add_import(struct collect *c, char *local, char *fqn)
{
	sv_push(&c->imp_local, local);
	sv_push(&c->imp_fqn, fqn);
}

static void on_import(struct collect *c, TSNode n)
{
	const struct tg_pyfile *py = c->py;
	char *base = NULL;
	TSNode mod = ts_node_child_by_field_name(n, "module_name", 11);

	if (!ts_node_is_null(mod)) {
		if (is(mod, S_RELATIVE)) {
			struct tg_buf b = TG_BUF_INIT;
			uint32_t cnt = ts_node_named_child_count(mod);

			for (uint32_t i = 0; i < cnt; i++) {
				TSNode k = ts_node_named_child(mod, i);
				char *t = node_str(py, k);

				/* "." runs are kept: resolved at decode time */
				for (char *p = t; *p; p++)
					if (*p != ' ' && *p != '\t')
						tg_buf_addch(&b, *p);
				free(t);
			}
			base = tg_buf_detach(&b, NULL);
		} else {
			base = squeeze(py, mod);
		}
	}
	for (uint32_t i = 0, cnt = ts_node_named_child_count(n); i < cnt;
	     i++) {
		TSNode k = ts_node_named_child(n, i);
		TSNode name, alias;
		char *full, *nm;

		if (ts_node_eq(k, mod))
			continue;
		if (is(k, S_ALIASED_IMPORT)) {
			name = ts_node_child_by_field_name(k, "name", 4);
			alias = ts_node_child_by_field_name(k, "alias", 5);
		} else if (is(k, S_DOTTED)) {
			name = k;
			alias = (TSNode){ 0 };
		} else {
			continue;
		}
		nm = squeeze(py, name);
		if (base) {
			size_t bl = strlen(base);

			full = tg_xasprintf("%s%s%s", base,
					    bl && base[bl - 1] != '.' ? "." : "",
					    nm);
			add_import(c, ts_node_is_null(alias) ?
					      tg_xstrdup(nm) :
					      node_str(py, alias),
				   full);
		} else if (!ts_node_is_null(alias)) {
			add_import(c, node_str(py, alias), tg_xstrdup(nm));
		} else {
			/* `import a.b.c` binds `a` to the package a */
			char *dot = strchr(nm, '.');
			char *top = dot ? tg_xstrndup(nm, dot - nm) :
					  tg_xstrdup(nm);

			add_import(c, top, tg_xstrdup(top));
		}
		free(nm);
	}
	free(base);
}

static void on_func(struct collect *c, TSNode n)
{
	TSNode name = ts_node_child_by_field_name(n, "name", 4);
	TSNode parent = ts_node_parent(n);
	bool record = at_definition_level(c);
	bool module_level = scope(c, NULL) == NULL;
	struct frame *f;
	char *nm = ts_node_is_null(name) ? tg_xstrdup("?") :
					   node_str(c->py, name);
	char *qual = qual_join(c, nm);

	if (module_level)
		add_local(c, nm);
	f = push(c, n, F_FUNC);
	f->qual = qual;
	if (record) {
		struct func *fn;

		TG_ALLOC_GROW(c->funcs, c->nfuncs + 1, c->alloc_funcs);
		fn = &c->funcs[c->nfuncs];
		memset(fn, 0, sizeof(*fn));
		fn->name = tg_xstrdup(nm);
		fn->qualname = tg_xstrdup(qual);
		fn->line = ts_node_start_point(n).row + 1;
		if (is(parent, S_DECORATED)) {
			for (uint32_t i = 0, cnt = ts_node_named_child_count(
						     parent);
			     i < cnt; i++) {
				TSNode d = ts_node_named_child(parent, i);
				char *t;

				if (!is(d, S_DECORATOR))
					continue;
				t = dotted_text(c->py,
						ts_node_named_child(d, 0));
				if (t)
					sv_push(&fn->decos, t);
			}
		}
		f->func = (long)c->nfuncs++;
	}
	free(nm);
}

static void on_class(struct collect *c, TSNode n)
{
	TSNode name = ts_node_child_by_field_name(n, "name", 4);
	char *nm = ts_node_is_null(name) ? tg_xstrdup("?") :
					   node_str(c->py, name);
	struct frame *f;

	if (!scope(c, NULL))
		add_local(c, nm);
	f = push(c, n, F_CLASS);
	f->qual = qual_join(c, nm);
	/* a class inside a function is not reachable: mark it so */
	if (!at_definition_level(c)) {
		free(f->qual);
		f->qual = NULL;
	}
	free(nm);
}

/* `X.begin()` / `X.begin_nested()`: the object text X, or NULL. */
static char *begin_object(const struct tg_pyfile *py, TSNode call)
{
	TSNode fn = ts_node_child_by_field_name(call, "function", 8);
	TSNode obj, attr;
	char *a, *o;

	if (!is(fn, S_ATTR))
		return NULL;
	attr = ts_node_child_by_field_name(fn, "attribute", 9);
	obj = ts_node_child_by_field_name(fn, "object", 6);
	a = node_str(py, attr);
	if (strcmp(a, "begin") && strcmp(a, "begin_nested")) {
		free(a);
		return NULL;
	}
	free(a);
	o = dotted_text(py, obj);
	if (!o && is(obj, S_CALL)) /* Session.begin() on a call result */
		o = tg_xstrdup("");
	return o;
}

static void on_with(struct collect *c, TSNode n)
{
	struct frame *f = push(c, n, F_WITH);
	TSNode clause = ts_node_named_child(n, 0);

	for (uint32_t i = 0, cnt = ts_node_named_child_count(clause); i < cnt;
	     i++) {
		TSNode item = ts_node_named_child(clause, i);
		TSNode v, call, target = { 0 };
		char *alias = NULL, *obj, *callee;

		if (!is(item, S_WITH_ITEM))
			continue;
		v = ts_node_child_by_field_name(item, "value", 5);
		if (is(v, S_AS_PATTERN)) {
			TSNode t = ts_node_child_by_field_name(v, "alias", 5);

			call = ts_node_named_child(v, 0);
			if (!ts_node_is_null(t))
				target = ts_node_named_child(t, 0);
			if (is(target, S_IDENT))
				alias = node_str(c->py, target);
		} else {
			call = v;
		}
		if (!is(call, S_CALL)) {
			free(alias);
			continue;
		}
		callee = dotted_text(c->py, ts_node_child_by_field_name(
						    call, "function", 8));
		obj = begin_object(c->py, call);
		if (obj) {
			char *txt = tg_xasprintf("%s.begin()", obj);

			/* `with s.begin():` owns s; `... as t` owns t */
			if (obj[0]) {
				sv_push(&f->own, tg_xstrdup(obj));
				sv_push(&f->owner, tg_xstrdup(txt));
			}
			if (alias) {
				sv_push(&f->own, tg_xstrdup(alias));
				sv_push(&f->owner, tg_xstrdup(txt));
			}
			free(txt);
			free(obj);
		} else if (alias && callee) {
			sv_push(&f->alias, tg_xstrdup(alias));
			sv_push(&f->callee, tg_xstrdup(callee));
		}
		add_use(c, callee);
		free(alias);
	}
}

static struct func *cur_func(struct collect *c, size_t *at)
{
	struct frame *s = scope(c, at);

	if (!s || s->kind != F_FUNC || s->func < 0)
		return NULL;
	return &c->funcs[s->func];
}

static void on_yield(struct collect *c, TSNode n)
{
	size_t at;
	struct func *fn = cur_func(c, &at);
	TSNode v;
	char *name;

	if (!fn)
		return;
	fn->has_yield = true;
	v = ts_node_named_child(n, 0);
	/* `yield from x` has a "from" token first: not a yielded name */
	if (ts_node_child_count(n) > 1 &&
	    !strcmp(ts_node_type(ts_node_child(n, 1)), "from"))
		return;
	if (!is(v, S_IDENT))
		return;
	name = node_str(c->py, v);
	for (size_t i = c->nframes; i-- > at + 1;) {
		struct frame *f = &c->frames[i];

		if (f->kind != F_WITH)
			continue;
		for (size_t k = 0; k < f->own.nr && !fn->owns; k++) {
			if (strcmp(f->own.v[k], name))
				continue;
			fn->owns = true;
			free(fn->how);
			fn->how = tg_xasprintf("yields inside %s",
					       f->owner.v[k]);
		}
		for (size_t k = 0; k < f->alias.nr && !fn->wraps; k++)
			if (!strcmp(f->alias.v[k], name))
				fn->wraps = tg_xstrdup(f->callee.v[k]);
	}
	TG_ALLOC_GROW(fn->yields, fn->nyields + 1, fn->alloc_yields);
	fn->yields[fn->nyields].name = name;
	fn->yields[fn->nyields++].pos = ts_node_start_byte(n);
}

static void on_call(struct collect *c, TSNode n)
{
	TSNode fnode = ts_node_child_by_field_name(n, "function", 8);
	size_t at;
	struct func *fn;

	if (is(fnode, S_IDENT) || is(fnode, S_ATTR)) {
		uint32_t s = ts_node_start_byte(fnode),
			 e = ts_node_end_byte(fnode);

		/* Depends(X) / x.Depends(X) / Depends(dependency=X) */
		if (e - s >= 7 && !memcmp(c->py->src + e - 7, "Depends", 7)) {
			TSNode args = ts_node_child_by_field_name(
				n, "arguments", 9);
			TSNode a = ts_node_named_child(args, 0);

			if (is(a, S_KEYWORD_ARG))
				a = ts_node_child_by_field_name(a, "value", 5);
			add_use(c, dotted_text(c->py, a));
		}
	}
	fn = cur_func(c, &at);
	if (!fn || !is(fnode, S_ATTR))
		return;
	for (size_t i = at + 1; i < c->nframes; i++)
		if (c->frames[i].kind == F_EXCEPT)
			return; /* a commit only on error does not own */
	{
		TSNode attr = ts_node_child_by_field_name(fnode, "attribute", 9);
		TSNode obj = ts_node_child_by_field_name(fnode, "object", 6);
		uint32_t s = ts_node_start_byte(attr);

		if (ts_node_end_byte(attr) - s != 6 ||
		    memcmp(c->py->src + s, "commit", 6) || !is(obj, S_IDENT))
			return;
		TG_ALLOC_GROW(fn->commits, fn->ncommits + 1, fn->alloc_commits);
		fn->commits[fn->ncommits].name = node_str(c->py, obj);
		fn->commits[fn->ncommits++].pos = ts_node_start_byte(n);
	}
}

/* Annotated[T, Depends(X)] -> X */
static char *annotated_depends(const struct tg_pyfile *py, TSNode sub)
{
	TSNode v = ts_node_child_by_field_name(sub, "value", 5);
	char *vt = dotted_text(py, v);
	bool ok = vt && !strcmp(last_part(vt), "Annotated");

	free(vt);
	if (!ok)
		return NULL;
	for (uint32_t i = 1, cnt = ts_node_named_child_count(sub); i < cnt;
	     i++) {
		TSNode k = ts_node_named_child(sub, i);
		TSNode f, a;
		char *ft;

		if (!is(k, S_CALL))
			continue;
		f = ts_node_child_by_field_name(k, "function", 8);
		ft = dotted_text(py, f);
		ok = ft && !strcmp(last_part(ft), "Depends");
		free(ft);
		if (!ok)
			continue;
		a = ts_node_named_child(
			ts_node_child_by_field_name(k, "arguments", 9), 0);
		if (is(a, S_KEYWORD_ARG))
			a = ts_node_child_by_field_name(a, "value", 5);
		return dotted_text(py, a);
	}
	return NULL;
}

static void on_assign(struct collect *c, TSNode n)
{
	TSNode left = ts_node_child_by_field_name(n, "left", 4);
	TSNode right = ts_node_child_by_field_name(n, "right", 5);
	struct assign *a;
	char *name;

	if (!at_definition_level(c) || !is(left, S_IDENT))
		return;
	name = node_str(c->py, left);
	if (!scope(c, NULL))
		add_local(c, name);
	if (is(right, S_CALL) || is(right, S_SUBSCRIPT)) {
		TG_ALLOC_GROW(c->assigns, c->nassigns + 1, c->alloc_assigns);
		a = &c->assigns[c->nassigns++];
		memset(a, 0, sizeof(*a));
		a->name = tg_xstrdup(name);
		a->qualname = qual_join(c, name);
		a->line = ts_node_start_point(n).row + 1;
		if (is(right, S_CALL))
			a->callee = dotted_text(
				c->py,
				ts_node_child_by_field_name(right, "function",
							    8));
		else
			a->depends = annotated_depends(c->py, right);
	}
	free(name);
}

static void on_param(struct collect *c, TSNode n)
{
	TSNode t = ts_node_child_by_field_name(n, "type", 4);
	char *txt;
	static const char *const skip[] = { "int", "str", "bool", "float",
					     "bytes", "dict", "list", "set",
					     "tuple", "object", "Any" };

	if (ts_node_is_null(t))
		return;
	txt = dotted_text(c->py, ts_node_named_child(t, 0));
	if (!txt)
		return;
	for (size_t i = 0; i < TG_ARRAY_SIZE(skip); i++) {
		if (!strcmp(txt, skip[i])) {
			free(txt);
			return;
		}
	}
	add_use(c, txt);
}

static void enter(struct collect *c, TSNode n)
{
	TSSymbol s = ts_node_symbol(n);

	if (s == syms[S_CALL])
		on_call(c, n);
	else if (s == syms[S_FUNC])
		on_func(c, n);
	else if (s == syms[S_CLASS])
		on_class(c, n);
	else if (s == syms[S_LAMBDA])
		push(c, n, F_LAMBDA);
	else if (s == syms[S_WITH])
		on_with(c, n);
	else if (s == syms[S_EXCEPT] || s == syms[S_EXCEPT_GROUP])
		push(c, n, F_EXCEPT);
	else if (s == syms[S_YIELD])
		on_yield(c, n);
	else if (s == syms[S_ASSIGN])
		on_assign(c, n);
	else if (s == syms[S_TYPED_PARAM] || s == syms[S_TYPED_DEFAULT])
		on_param(c, n);
	else if ((s == syms[S_IMPORT] || s == syms[S_IMPORT_FROM]) &&
		 at_definition_level(c))
		on_import(c, n);
}

static void finish_func(struct func *fn)
{
	if (fn->owns)
		return;
	/* §5: a commit after the yield, outside an except clause */
	for (size_t i = 0; i < fn->ncommits && !fn->owns; i++) {
		for (size_t k = 0; k < fn->nyields; k++) {
			if (strcmp(fn->yields[k].name, fn->commits[i].name) ||
			    fn->yields[k].pos >= fn->commits[i].pos)
				continue;
			fn->owns = true;
			fn->how = tg_xstrdup("commits after yield");
			break;
		}
	}
}

static void leave(struct collect *c, TSNode n)
{
	while (c->nframes && c->frames[c->nframes - 1].id == n.id) {
		struct frame *f = &c->frames[--c->nframes];

		if (f->kind == F_FUNC && f->func >= 0)
			finish_func(&c->funcs[f->func]);
		frame_release(f);
	}
}

/* The fully qualified name a dotted `text` stands for in this file. */
static char *qualify(const struct collect *c, const char *text)
{
	const char *dot = strchr(text, '.');
	size_t first = dot ? (size_t)(dot - text) : strlen(text);

	for (size_t i = c->imp_local.nr; i-- > 0;) {
		const char *l = c->imp_local.v[i];

		if (strlen(l) == first && !memcmp(l, text, first))
			return tg_xasprintf("%s%s", c->imp_fqn.v[i],
					    dot ? dot : "");
	}
	return tg_xstrdup(text);
}

static bool is_cm_decorator(const struct collect *c, const char *d)
{
	char *q = qualify(c, d);
	const char *l = last_part(q);
	bool yes = !strcmp(l, "contextmanager") ||
		   !strcmp(l, "asynccontextmanager");

	free(q);
	return yes;
}

static bool is_factory_call(const struct collect *c, const char *callee)
{
	char *q = qualify(c, callee);
	const char *l = last_part(q);
	bool yes = !strcmp(l, "sessionmaker") ||
		   !strcmp(l, "async_sessionmaker") ||
		   !strcmp(l, "scoped_session") ||
		   !strcmp(l, "async_scoped_session");

	free(q);
	return yes;
}

/* ---- serialization ---------------------------------------------------- */

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

static void put_def(struct tg_buf *b, enum tg_def_kind kind, bool owns,
		    uint32_t line, const char *name, const char *qual,
		    const char *target, const char *how)
{
	tg_buf_addch(b, kind);
	tg_buf_addch(b, owns);
	put_varint(b, line);
	put_str(b, name);
	put_str(b, qual);
	put_str(b, target);
	put_str(b, how);
}

static void serialize(struct tg_buf *out, struct collect *c)
{
	struct tg_buf defs = TG_BUF_INIT;
	size_t ndefs = 0;
	unsigned flags = 0;

	for (size_t i = 0; i < c->nfuncs; i++) {
		struct func *fn = &c->funcs[i];
		bool cm = false;

		for (size_t k = 0; k < fn->decos.nr && !cm; k++)
			cm = is_cm_decorator(c, fn->decos.v[k]);
		if (!cm && !fn->has_yield)
			continue;
		if (!fn->owns && !fn->wraps)
			continue;
		put_def(&defs, cm ? TG_DEF_CM : TG_DEF_GEN, fn->owns, fn->line,
			fn->name, fn->qualname, fn->owns ? NULL : fn->wraps,
			fn->owns ? fn->how : NULL);
		ndefs++;
	}
	for (size_t i = 0; i < c->nassigns; i++) {
		struct assign *a = &c->assigns[i];

		if (a->callee && is_factory_call(c, a->callee)) {
			put_def(&defs, TG_DEF_FACTORY, false, a->line, a->name,
				a->qualname, NULL, last_part(a->callee));
			ndefs++;
		} else if (a->depends) {
			put_def(&defs, TG_DEF_ALIAS, false, a->line, a->name,
				a->qualname, a->depends, NULL);
			ndefs++;
		}
	}
	if (ndefs)
		flags |= TG_INFER_HAS_DEFS;
	if (c->uses.nr)
		flags |= TG_INFER_HAS_USES;
	tg_buf_addch(out, (int)flags);
	put_varint(out, (uint32_t)c->imp_local.nr);
	for (size_t i = 0; i < c->imp_local.nr; i++) {
		put_str(out, c->imp_local.v[i]);
		put_str(out, c->imp_fqn.v[i]);
	}
	put_varint(out, (uint32_t)ndefs);
	tg_buf_add(out, defs.ptr, defs.len);
	put_varint(out, (uint32_t)c->uses.nr);
	for (size_t i = 0; i < c->uses.nr; i++)
		put_str(out, c->uses.v[i]);
	put_varint(out, (uint32_t)c->locals.nr);
	for (size_t i = 0; i < c->locals.nr; i++)
		put_str(out, c->locals.v[i]);
	tg_buf_release(&defs);
}

static void collect_release(struct collect *c)
{
	for (size_t i = 0; i < c->nfuncs; i++) {
		struct func *fn = &c->funcs[i];

		free(fn->name);
		free(fn->qualname);
		free(fn->how);
		free(fn->wraps);
		sv_release(&fn->decos);
		for (size_t k = 0; k < fn->nyields; k++)
			free(fn->yields[k].name);
		for (size_t k = 0; k < fn->ncommits; k++)
			free(fn->commits[k].name);
		free(fn->yields);
		free(fn->commits);
	}
	free(c->funcs);
	for (size_t i = 0; i < c->nassigns; i++) {
		free(c->assigns[i].name);
		free(c->assigns[i].qualname);
		free(c->assigns[i].callee);
		free(c->assigns[i].depends);
	}
	free(c->assigns);
	for (size_t i = 0; i < c->nframes; i++)
		frame_release(&c->frames[i]);
	free(c->frames);
	sv_release(&c->imp_local);
	sv_release(&c->imp_fqn);
	sv_release(&c->uses);
	sv_release(&c->locals);
}

void tg_infer_pyfile(struct tg_buf *out, const struct tg_pyfile *py)
{
	struct collect c;
	TSTreeCursor cur;

	pthread_once(&syms_once, syms_init);
	memset(&c, 0, sizeof(c));
	c.py = py;
	cur = ts_tree_cursor_new(ts_tree_root_node(py->tree));
	/* iterative pre-order walk with leave events: any depth (§11) */
	for (;;) {
		TSNode n = ts_tree_cursor_current_node(&cur);

		if (ts_node_is_named(n))
			enter(&c, n);
		if (ts_tree_cursor_goto_first_child(&cur))
			continue;
		for (;;) {
			leave(&c, ts_tree_cursor_current_node(&cur));
			if (ts_tree_cursor_goto_next_sibling(&cur))
				break;
			if (!ts_tree_cursor_goto_parent(&cur))
				goto done;
		}
	}
done:
	ts_tree_cursor_delete(&cur);
	serialize(out, &c);
	collect_release(&c);
}

int tg_infer_blob(struct tg_buf *out, bool *parsed, const char *path,
		  const char *src, size_t len)
{
	struct tg_pyfile *py = NULL;

	if (parsed)
		*parsed = false;
	if (!tg_infer_wanted(path, src, len) || memchr(src, '\0', len))
		return 0;
	if (tg_pyfile_parse(&py, path, src, len) < 0) {
		tg_error_clear();
		return 0; /* binary or unparseable: nothing to learn */
	}
	if (parsed)
		*parsed = true;
	tg_infer_pyfile(out, py);
	tg_pyfile_free(py);
	return 0;
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
		size_t a, b2, t, h;

		d->kind = get_u8(&r);
		d->owns = get_u8(&r) != 0;
		d->line = get_varint(&r);
		a = get_str(&r, base);
		b2 = get_str(&r, base);
		t = get_str(&r, base);
		h = get_str(&r, base);
		if (r.bad || d->kind < TG_DEF_CM || d->kind > TG_DEF_ALIAS)
			goto bad;
		d->name = (char *)base + a;
		d->qualname = (char *)base + b2;
		d->target = base[t] ? (char *)base + t : NULL;
		d->how = base[h] ? (char *)base + h : NULL;
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

static bool same_def(const struct tg_def *a, const struct tg_def *b)
{
	return a->kind == b->kind && a->owns == b->owns &&
	       !strcmp(a->qualname, b->qualname) &&
	       !strcmp(a->target ? a->target : "", b->target ? b->target : "");
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

void tg_infer_changed_names(char ***names, size_t *nr, size_t *alloc,
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

/* ---- the resolver ----------------------------------------------------- */

/* A string -> index hash map with open addressing; keys owned. */
struct smap {
	char **keys;
	size_t *vals;
	size_t cap, nr;
};

#define AMBIGUOUS ((size_t)-1)

static uint64_t hash_str(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static size_t *smap_slot(struct smap *m, const char *k, size_t len,
			 bool insert)
{
	size_t i;

	if (insert && (m->nr + 1) * 4 >= m->cap * 3) {
		struct smap n = { 0 };

		n.cap = m->cap ? m->cap * 2 : 64;
		n.keys = tg_xcalloc(n.cap, sizeof(*n.keys));
		n.vals = tg_xcalloc(n.cap, sizeof(*n.vals));
		for (size_t j = 0; j < m->cap; j++) {
			if (!m->keys[j])
				continue;
			i = hash_str(m->keys[j], strlen(m->keys[j])) &
			    (n.cap - 1);
			while (n.keys[i])
				i = (i + 1) & (n.cap - 1);
			n.keys[i] = m->keys[j];
			n.vals[i] = m->vals[j];
		}
		n.nr = m->nr;
		free(m->keys);
		free(m->vals);
		*m = n;
	}
	if (!m->cap)
		return NULL;
	i = hash_str(k, len) & (m->cap - 1);
	while (m->keys[i]) {
		if (!strncmp(m->keys[i], k, len) && !m->keys[i][len])
			return &m->vals[i];
		i = (i + 1) & (m->cap - 1);
	}
	if (!insert)
		return NULL;
	m->keys[i] = tg_xstrndup(k, len);
	m->nr++;
	m->vals[i] = AMBIGUOUS - 1; /* fresh: the caller sets it */
	return &m->vals[i];
}

static bool smap_get(const struct smap *m, const char *k, size_t len,
		     size_t *val)
{
	size_t *v = smap_slot((struct smap *)m, k, len, false);

	if (!v)
		return false;
	*val = *v;
	return true;
}

/* Set, or mark ambiguous when a different value is already there. */
static void smap_put(struct smap *m, const char *k, size_t len, size_t val,
		     bool replace)
{
	size_t *v = smap_slot(m, k, len, true);

	if (*v == AMBIGUOUS - 1 || replace || *v == val)
		*v = val;
	else
		*v = AMBIGUOUS;
}

/*
 * Remove key `k` (linear probing: the entries after it that would no
 * longer be found move back into the hole). Whether it was there.
 */
static bool smap_del(struct smap *m, const char *k, size_t len)
{
	size_t *v = smap_slot(m, k, len, false), i, j;

	if (!v)
		return false;
	i = (size_t)(v - m->vals);
	free(m->keys[i]);
	m->keys[i] = NULL;
	m->nr--;
	for (j = (i + 1) & (m->cap - 1); m->keys[j]; j = (j + 1) & (m->cap - 1)) {
		size_t home = hash_str(m->keys[j], strlen(m->keys[j])) &
			      (m->cap - 1);

		/* stays when its home lies cyclically in (i, j] */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		m->keys[i] = m->keys[j];
		m->vals[i] = m->vals[j];
		m->keys[j] = NULL;
		i = j;
	}
	return true;
}

static void smap_release(struct smap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

struct rfile {
	char *path;
	char *module;
	const unsigned char *data; /* NULL with len: the loader's (key) */
	size_t len;
	const void *key;
	unsigned char head0; /* the record's first byte */
	unsigned char *copy;
	struct tg_inferred *inf;
	bool decoded;
	/* tg_resolver_fill()ed and no resolution target: only queries
	 * from the file itself use it */
	bool own_only;
};

/* Forget a file's decoding; its record stays. */
static void undecode(struct rfile *f)
{
	tg_inferred_free(f->inf);
	f->inf = NULL;
	f->decoded = false;
}

struct defref {
	size_t file, def;
};

/* Indices of slots free for reuse. */
struct slots {
	size_t *v;
	size_t nr, alloc;
};

static void slot_free(struct slots *s, size_t idx)
{
	TG_ALLOC_GROW(s->v, s->nr + 1, s->alloc);
	s->v[s->nr++] = idx;
}

/* A free slot, or a new one at the end of an array of *n. */
static size_t slot_take(struct slots *s, size_t *n)
{
	return s->nr ? s->v[--s->nr] : (*n)++;
}

struct tg_resolver {
	pthread_mutex_t mu; /* the engine's scan threads share one */
	tg_resolver_load_fn load; /* of the files added lazily */
	struct rfile *files;
	size_t nfiles, alloc_files;
	struct slots free_files; /* of done own-only files */
	struct smap paths, modules, suffixes, names;
	/* every dotted run of a module's parts short of its last part,
	 * for reaches(): "a", "a.b" and "b" of "a.b.c" */
	struct smap prefixes;
	bool suffixes_built, names_built, prefixes_built;
	struct defref *refs;
	size_t nrefs, alloc_refs;
	/*
	 * Answers, per querying file: path -> index in memos, whose map
	 * is "k\ncallee" -> index in owners or AMBIGUOUS (none). A file's
	 * memo goes with tg_resolver_done(), so a scan holds those of the
	 * files being analysed. One made before `gen` changed is stale.
	 */
	struct smap memo_of;
	struct memo *memos;
	size_t nmemos, alloc_memos;
	struct slots free_memos;
	unsigned gen;
	/* "k\nfile\ndef" -> index in owners: one object per definition */
	struct smap owner_of;
	struct tg_owner **owners;
	size_t nowners, alloc_owners;
};

struct memo {
	struct smap m;
	unsigned gen;
};

/* Forget every answer (new definitions joined); handed-out ones stay. */
static void forget_answers(struct tg_resolver *r)
{
	r->gen++;
	smap_release(&r->owner_of);
}

static void release_memos(struct tg_resolver *r)
{
	for (size_t i = 0; i < r->nmemos; i++)
		smap_release(&r->memos[i].m);
	free(r->memos);
	free(r->free_memos.v);
	r->memos = NULL;
	r->nmemos = r->alloc_memos = 0;
	memset(&r->free_memos, 0, sizeof(r->free_memos));
	smap_release(&r->memo_of);
}

/* The current memo of queries from `path`, made when missing. */
static struct smap *memo_for(struct tg_resolver *r, const char *path)
{
	size_t idx;
	struct memo *m;

	if (!smap_get(&r->memo_of, path, strlen(path), &idx)) {
		TG_ALLOC_GROW(r->memos, r->nmemos + 1, r->alloc_memos);
		idx = slot_take(&r->free_memos, &r->nmemos);
		memset(&r->memos[idx], 0, sizeof(r->memos[idx]));
		r->memos[idx].gen = r->gen;
		smap_put(&r->memo_of, path, strlen(path), idx, true);
	}
	m = &r->memos[idx];
	if (m->gen != r->gen) {
		smap_release(&m->m);
		m->gen = r->gen;
	}
	return &m->m;
}

/* Queries from `path` are over: its memo goes (not the owners). */
static void drop_memo(struct tg_resolver *r, const char *path)
{
	size_t idx;

	if (!smap_get(&r->memo_of, path, strlen(path), &idx))
		return;
	smap_release(&r->memos[idx].m);
	smap_del(&r->memo_of, path, strlen(path));
	slot_free(&r->free_memos, idx);
}

struct tg_resolver *tg_resolver_new(void)
{
	struct tg_resolver *r = tg_xcalloc(1, sizeof(*r));

	pthread_mutex_init(&r->mu, NULL);
	return r;
}

static void drop_results(struct tg_resolver *r)
{
	for (size_t i = 0; i < r->nowners; i++) {
		free(r->owners[i]->name);
		free(r->owners[i]->where);
		free(r->owners[i]->how);
		free(r->owners[i]);
	}
	r->nowners = 0;
	release_memos(r);
	smap_release(&r->owner_of);
	smap_release(&r->names);
	r->names_built = false;
	r->nrefs = 0;
}

void tg_resolver_free(struct tg_resolver *r)
{
	if (!r)
		return;
	drop_results(r);
	free(r->owners);
	free(r->refs);
	for (size_t i = 0; i < r->nfiles; i++) {
		free(r->files[i].path);
		free(r->files[i].module);
		free(r->files[i].copy);
		tg_inferred_free(r->files[i].inf);
	}
	free(r->files);
	free(r->free_files.v);
	smap_release(&r->paths);
	smap_release(&r->modules);
	smap_release(&r->suffixes);
	smap_release(&r->prefixes);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static size_t add_locked(struct tg_resolver *r, const char *path,
			 const void *data, size_t len, bool copy,
			 bool own_only);

static bool reaches(struct tg_resolver *r, const char *path,
		    const void *data, size_t len);

static void put_suffixes(struct tg_resolver *r, size_t i);
static void put_prefixes(struct tg_resolver *r, size_t i);

/*
 * File i's module joined the targets: the maps built from their names
 * take it in (a module never leaves them, and smap_put marks a name two
 * modules share the same in any order).
 */
static void module_joined(struct tg_resolver *r, size_t i)
{
	if (r->suffixes_built)
		put_suffixes(r, i);
	if (r->prefixes_built)
		put_prefixes(r, i);
}

void tg_resolver_add(struct tg_resolver *r, const char *path,
		     const void *data, size_t len, bool copy)
{
	pthread_mutex_lock(&r->mu);
	add_locked(r, path, data, len, copy, false);
	pthread_mutex_unlock(&r->mu);
}

/* The file's index in r->files. */
static size_t add_locked(struct tg_resolver *r, const char *path,
			 const void *data, size_t len, bool copy,
			 bool own_only)
{
	size_t idx;
	struct rfile *f;

	if (smap_get(&r->paths, path, strlen(path), &idx)) {
		/* a replaced file invalidates earlier answers */
		f = &r->files[idx];
		free(f->copy);
		tg_inferred_free(f->inf);
		f->copy = NULL;
		f->inf = NULL;
		f->key = NULL;
		f->decoded = false;
		if (f->own_only && !own_only && f->module[0]) {
			f->own_only = false;
			smap_put(&r->modules, f->module, strlen(f->module),
				 idx, false);
			module_joined(r, idx);
		}
		drop_results(r);
	} else {
		TG_ALLOC_GROW(r->files, r->nfiles + 1, r->alloc_files);
		idx = slot_take(&r->free_files, &r->nfiles);
		f = &r->files[idx];
		memset(f, 0, sizeof(*f));
		f->path = tg_xstrdup(path);
		f->module = tg_infer_module(path);
		f->own_only = own_only;
		smap_put(&r->paths, path, strlen(path), idx, true);
		if (f->module[0] && !own_only) {
			smap_put(&r->modules, f->module, strlen(f->module),
				 idx, false);
			module_joined(r, idx);
		}
	}
	if (copy && len) {
		f->copy = tg_xmalloc(len);
		memcpy(f->copy, data, len);
		data = f->copy;
	}
	f->data = data;
	f->len = len;
	f->head0 = len ? *(const unsigned char *)data : 0;
	return idx;
}

void tg_resolver_add_lazy(struct tg_resolver *r, const char *path,
			  size_t len, const unsigned char head[2],
			  tg_resolver_load_fn load, const void *key)
{
	size_t idx;

	pthread_mutex_lock(&r->mu);
	r->load = load;
	idx = add_locked(r, path, head, len ? 1 : 0, false, false);
	r->files[idx].data = NULL;
	r->files[idx].len = len;
	r->files[idx].key = key;
	pthread_mutex_unlock(&r->mu);
}

static void forget_names(struct tg_resolver *r)
{
	smap_release(&r->names);
	r->names_built = false;
	r->nrefs = 0;
}

bool tg_resolver_needs(struct tg_resolver *r, const char *path)
{
	size_t idx;
	bool needs = true;

	pthread_mutex_lock(&r->mu);
	if (smap_get(&r->paths, path, strlen(path), &idx))
		needs = !r->files[idx].len;
	pthread_mutex_unlock(&r->mu);
	return needs;
}

void tg_resolver_done(struct tg_resolver *r, const char *path)
{
	size_t idx;

	pthread_mutex_lock(&r->mu);
	drop_memo(r, path);
	if (!smap_get(&r->paths, path, strlen(path), &idx)) {
		/* not in the resolver: nothing more to drop */
	} else if (r->files[idx].own_only) {
		struct rfile *f = &r->files[idx];

		/*
		 * No definitions: no answer handed out points into it,
		 * and no map but `paths` knows it. Its slot is reused.
		 */
		smap_del(&r->paths, path, strlen(path));
		tg_inferred_free(f->inf);
		free(f->copy);
		free(f->path);
		free(f->module);
		memset(f, 0, sizeof(*f));
		f->own_only = true;
		slot_free(&r->free_files, idx);
	} else {
		/*
		 * A resolution target keeps its record, not its decoding:
		 * answers copy what they need, and a later query decodes
		 * it again, so a scan does not end up holding every
		 * target it analysed decoded.
		 */
		undecode(&r->files[idx]);
	}
	pthread_mutex_unlock(&r->mu);
}

void tg_resolver_fill(struct tg_resolver *r, const char *path,
		      const void *data, size_t len)
{
	const unsigned char *d = data;
	size_t idx;

	if (!len)
		return;
	pthread_mutex_lock(&r->mu);
	if (!smap_get(&r->paths, path, strlen(path), &idx)) {
		/*
		 * A record that defines nothing and re-exports nothing (a
		 * package that imports) only binds the file's own imports:
		 * it joins for the file's queries alone, so no other file's
		 * answer depends on when it was analysed (the same findings
		 * on any number of threads), and nothing is forgotten.
		 */
		if (!tg_infer_is_target(path, d, len) ||
		    (!(d[0] & TG_INFER_HAS_DEFS) &&
		     !reaches(r, path, data, len))) {
			add_locked(r, path, data, len, true, true);
			d = NULL;
		} else {
			add_locked(r, path, data, len, true, false);
		}
	} else if (!r->files[idx].len) {
		struct rfile *f = &r->files[idx];

		/*
		 * An empty record has no definitions, so no answer handed
		 * out points into it: unlike a replacement, filling it
		 * leaves every earlier answer valid (scan threads rely on
		 * that).
		 */
		tg_inferred_free(f->inf);
		f->inf = NULL;
		f->decoded = false;
		free(f->copy);
		f->copy = tg_xmalloc(len);
		memcpy(f->copy, data, len);
		f->data = f->copy;
		f->len = len;
		f->head0 = d[0];
	} else {
		d = NULL;
	}
	if (d) {
		/*
		 * Answers made without this record are forgotten, not
		 * freed: whoever holds one keeps a valid object, and the
		 * next query resolves afresh. New definitions join the
		 * repository-wide names (rule 4).
		 */
		forget_answers(r);
		if (d[0] & TG_INFER_HAS_DEFS)
			forget_names(r);
	}
	pthread_mutex_unlock(&r->mu);
}

size_t tg_resolver_remembered(struct tg_resolver *r)
{
	size_t n = 0;

	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->nmemos; i++)
		if (r->memos[i].gen == r->gen)
			n += r->memos[i].m.nr;
	pthread_mutex_unlock(&r->mu);
	return n;
}

static struct tg_inferred *file_inf(struct tg_resolver *r, size_t idx)
{
	struct rfile *f = &r->files[idx];

	if (!f->decoded) {
		unsigned char *owned = NULL;
		const unsigned char *data = f->data;

		if (!data && f->len)
			data = r->load(f->key, &owned);
		f->decoded = true;
		if (tg_inferred_decode(&f->inf, f->path, data, f->len) < 0) {
			tg_error_clear();
			tg_inferred_decode(&f->inf, f->path, NULL, 0);
		}
		free(owned);
	}
	return f->inf;
}

const struct tg_inferred *tg_resolver_file(struct tg_resolver *r,
					   const char *path)
{
	const struct tg_inferred *inf = NULL;
	size_t idx;

	pthread_mutex_lock(&r->mu);
	if (smap_get(&r->paths, path, strlen(path), &idx))
		inf = file_inf(r, idx);
	pthread_mutex_unlock(&r->mu);
	return inf;
}

/* Every proper dotted suffix of file i's module, for src/ layouts. */
static void put_suffixes(struct tg_resolver *r, size_t i)
{
	const char *m = r->files[i].module;

	for (const char *p = strchr(m, '.'); p; p = strchr(p + 1, '.'))
		smap_put(&r->suffixes, p + 1, strlen(p + 1), i, false);
}

static void build_suffixes(struct tg_resolver *r)
{
	for (size_t i = 0; i < r->nfiles; i++)
		if (!r->files[i].own_only && r->files[i].module)
			put_suffixes(r, i);
	r->suffixes_built = true;
}

/* Every dotted run of file i's module's parts short of its last. */
static void put_prefixes(struct tg_resolver *r, size_t i)
{
	const char *m = r->files[i].module;

	for (const char *a = m; a; a = strchr(a, '.'), a = a ? a + 1 : a)
		for (const char *b = strchr(a, '.'); b; b = strchr(b + 1, '.'))
			smap_put(&r->prefixes, a, (size_t)(b - a), i, false);
}

static void build_prefixes(struct tg_resolver *r)
{
	for (size_t i = 0; i < r->nfiles; i++)
		if (!r->files[i].own_only && r->files[i].module)
			put_prefixes(r, i);
	r->prefixes_built = true;
}

/*
 * The target a lookup of `fqn` goes into: the one whose module, or else
 * module suffix, is the longest dotted start of it (*cut its length).
 * Whether there is one.
 */
static bool target_of(struct tg_resolver *r, const char *fqn, size_t len,
		      size_t *fi, size_t *cut)
{
	for (int pass = 0; pass < 2; pass++) {
		struct smap *m = pass ? &r->suffixes : &r->modules;

		if (pass && !r->suffixes_built)
			build_suffixes(r);
		for (size_t c = len; c > 0; c--) {
			if (fqn[c - 1] == '.' || (c < len && fqn[c] != '.'))
				continue;
			if (!smap_get(m, fqn, c, fi) || *fi == AMBIGUOUS)
				continue;
			*cut = c;
			return true;
		}
	}
	return false;
}

/* Does the target bind `c` (one name part): a definition or an import? */
static bool binds(struct tg_resolver *r, size_t fi, const char *c, size_t len)
{
	struct tg_inferred *inf = file_inf(r, fi);

	for (size_t i = 0; i < inf->ndefs; i++) {
		const char *q = inf->defs[i].qualname;

		if (!strncmp(q, c, len) && (!q[len] || q[len] == '.'))
			return true;
	}
	for (size_t i = 0; i < inf->nimports; i++)
		if (strlen(inf->imports[i].local) == len &&
		    !memcmp(inf->imports[i].local, c, len))
			return true;
	return false;
}

/*
 * Could a lookup of `fqn`, and of whatever a query appends to it, reach
 * a target? The fqn is a dotted start of a target's name, or the target
 * lookup_fqn() goes into (target_of()) is it, or binds the next part.
 */
static bool fqn_reaches(struct tg_resolver *r, const char *fqn)
{
	size_t len = strlen(fqn), fi, cut;
	const char *c, *dot;

	if (smap_get(&r->prefixes, fqn, len, &fi))
		return true;
	if (!target_of(r, fqn, len, &fi, &cut))
		return false;
	if (cut == len)
		return true;
	c = fqn + cut + 1;
	dot = strchr(c, '.');
	return binds(r, fi, c, dot ? (size_t)(dot - c) : strlen(c));
}

/*
 * Could a lookup through one of the record's imports reach a target?
 * A package for which none can (most re-export nothing a query looks
 * for) only ever answers NOT_FOUND, like a module the resolver lacks.
 */
static bool reaches(struct tg_resolver *r, const char *path,
		    const void *data, size_t len)
{
	struct tg_inferred *inf;
	bool yes = false;

	if (tg_inferred_decode(&inf, path, data, len) < 0) {
		tg_error_clear();
		return true; /* unreadable here: keep it as before */
	}
	if (!r->prefixes_built)
		build_prefixes(r);
	for (size_t i = 0; i < inf->nimports && !yes; i++)
		yes = fqn_reaches(r, inf->imports[i].fqn);
	tg_inferred_free(inf);
	return yes;
}

bool tg_resolver_reaches(struct tg_resolver *r, const char *path,
			 const void *data, size_t len)
{
	bool yes;

	pthread_mutex_lock(&r->mu);
	yes = reaches(r, path, data, len);
	pthread_mutex_unlock(&r->mu);
	return yes;
}

static void build_names(struct tg_resolver *r)
{
	for (size_t i = 0; i < r->nfiles; i++) {
		struct tg_inferred *inf;
		bool decoded = r->files[i].decoded;

		/* only records with definitions need decoding */
		if (!r->files[i].len ||
		    !(r->files[i].head0 & TG_INFER_HAS_DEFS))
			continue;
		inf = file_inf(r, i);
		for (size_t k = 0; k < inf->ndefs; k++) {
			TG_ALLOC_GROW(r->refs, r->nrefs + 1, r->alloc_refs);
			r->refs[r->nrefs].file = i;
			r->refs[r->nrefs].def = k;
			smap_put(&r->names, inf->defs[k].name,
				 strlen(inf->defs[k].name), r->nrefs++, false);
		}
		/* nothing points into a decoding made just for the names:
		 * a query that reaches the file decodes it again */
		if (!decoded)
			undecode(&r->files[i]);
	}
	r->names_built = true;
}

enum found { NOT_FOUND, FOUND, UNBOUND };

struct hit {
	size_t file;
	const struct tg_def *def;
	bool fallback;
};

static enum found lookup_fqn(struct hit *out, struct tg_resolver *r,
			     const char *fqn, int hops);

static const struct tg_def *def_named(const struct tg_inferred *inf,
				      const char *q, size_t len)
{
	for (size_t i = 0; i < inf->ndefs; i++)
		if (!strncmp(inf->defs[i].qualname, q, len) &&
		    !inf->defs[i].qualname[len])
			return &inf->defs[i];
	return NULL;
}

static enum found lookup_in(struct hit *out, struct tg_resolver *r,
			    size_t fi, const char *c, size_t len, int hops)
{
	struct tg_inferred *inf = file_inf(r, fi);
	const char *dot = memchr(c, '.', len);
	size_t first = dot ? (size_t)(dot - c) : len;
	const struct tg_def *d;

	if (dot && ((first == 4 && !memcmp(c, "self", 4)) ||
		    (first == 3 && !memcmp(c, "cls", 3)))) {
		const char *rest = dot + 1;
		size_t rlen = len - first - 1;

		for (size_t i = 0; i < inf->ndefs; i++) {
			const char *q = inf->defs[i].qualname;
			size_t ql = strlen(q);

			if (ql > rlen + 1 && q[ql - rlen - 1] == '.' &&
			    !memcmp(q + ql - rlen, rest, rlen)) {
				out->file = fi;
				out->def = &inf->defs[i];
				return FOUND;
			}
		}
		return NOT_FOUND;
	}
	if ((d = def_named(inf, c, len))) {
		out->file = fi;
		out->def = d;
		return FOUND;
	}
	/* a local binding shadows imports and the repository (§5) */
	for (size_t i = 0; i < inf->nlocals; i++)
		if (strlen(inf->locals[i]) == first &&
		    !memcmp(inf->locals[i], c, first))
			return NOT_FOUND;
	for (size_t i = inf->nimports; i-- > 0;) {
		const struct tg_import *im = &inf->imports[i];
		char *fqn;
		enum found res;

		if (strlen(im->local) != first || memcmp(im->local, c, first))
			continue;
		if (hops >= 8)
			return NOT_FOUND;
		fqn = tg_xasprintf("%s%.*s", im->fqn, (int)(len - first),
				   c + first);
		res = lookup_fqn(out, r, fqn, hops + 1);
		free(fqn);
		return res == FOUND ? FOUND : NOT_FOUND;
	}
	return UNBOUND;
}

static enum found lookup_fqn(struct hit *out, struct tg_resolver *r,
			     const char *fqn, int hops)
{
	size_t len = strlen(fqn), fi, cut;

	if (!target_of(r, fqn, len, &fi, &cut))
		return NOT_FOUND; /* outside the repository */
	if (cut == len)
		return NOT_FOUND; /* the module itself */
	return lookup_in(out, r, fi, fqn + cut + 1, len - cut - 1, hops) ==
			       FOUND ?
		       FOUND :
		       NOT_FOUND;
}

static bool lookup(struct hit *out, struct tg_resolver *r, const char *path,
		   const char *callee, size_t len)
{
	size_t fi, ri;
	enum found res = UNBOUND;
	const char *last;

	memset(out, 0, sizeof(*out));
	while (len && (*callee == ' ' || *callee == '\t')) {
		callee++;
		len--;
	}
	if (!len)
		return false;
	if (smap_get(&r->paths, path, strlen(path), &fi))
		res = lookup_in(out, r, fi, callee, len, 0);
	if (res == FOUND)
		return true;
	if (res == NOT_FOUND)
		return false;
	/*
	 * rule 4: a bare name the file does not bind (star imports), when
	 * unique repository-wide. `x.name` with x unbound is an attribute of
	 * some runtime object (a parameter, a local): never guessed (§5
	 * precision).
	 */
	if (memchr(callee, '.', len))
		return false;
	if (!r->names_built)
		build_names(r);
	last = callee + len;
	while (last > callee && last[-1] != '.')
		last--;
	if (!smap_get(&r->names, last, (size_t)(callee + len - last), &ri) ||
	    ri == AMBIGUOUS)
		return false;
	out->file = r->refs[ri].file;
	out->def = &file_inf(r, out->file)->defs[r->refs[ri].def];
	out->fallback = true;
	return true;
}

/* Follow wrappers; the def that owns by itself, or NULL. Cycles end. */
static const struct tg_def *owning_end(struct tg_resolver *r, struct hit h,
				       struct hit *end)
{
	for (int depth = 0; depth < 16; depth++) {
		struct hit next;
		const char *t = h.def->target;

		if (h.def->kind != TG_DEF_CM && h.def->kind != TG_DEF_GEN)
			return NULL;
		if (h.def->owns) {
			*end = h;
			return h.def;
		}
		if (!t || !lookup(&next, r, r->files[h.file].path, t,
				  strlen(t)))
			return NULL;
		h = next;
	}
	return NULL;
}

int tg_resolver_lookup(struct tg_resolution *out, struct tg_resolver *r,
		       const char *path, const char *callee, size_t len)
{
	struct hit h, end;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&r->mu);
	if (!lookup(&h, r, path, callee, len)) {
		pthread_mutex_unlock(&r->mu);
		return 0;
	}
	out->def = h.def;
	out->path = r->files[h.file].path;
	out->fallback = h.fallback;
	switch (h.def->kind) {
	case TG_DEF_CM:
	case TG_DEF_GEN:
		out->kind = h.def->kind == TG_DEF_CM ? TG_RESOLVED_CM :
						       TG_RESOLVED_DEPENDENCY;
		out->owns = owning_end(r, h, &end) != NULL;
		break;
	case TG_DEF_FACTORY:
		out->kind = TG_RESOLVED_FACTORY;
		break;
	case TG_DEF_ALIAS: {
		struct hit dep;

		out->kind = TG_RESOLVED_ALIAS;
		out->owns = h.def->target &&
			    lookup(&dep, r, out->path, h.def->target,
				   strlen(h.def->target)) &&
			    owning_end(r, dep, &end) != NULL;
		break;
	}
	}
	pthread_mutex_unlock(&r->mu);
	return 0;
}

/* The "how" of an owning chain: "wraps a -> b (app/db.py:12, ...)". */
static char *chain_how(struct tg_resolver *r, struct hit h)
{
	struct tg_buf b = TG_BUF_INIT;
	struct hit end;

	if (!owning_end(r, h, &end))
		return NULL;
	if (h.def == end.def)
		return tg_xstrdup(h.def->how ? h.def->how : "owns");
	tg_buf_addstr(&b, "wraps ");
	for (int depth = 0; depth < 16 && h.def != end.def; depth++) {
		struct hit next;

		if (!lookup(&next, r, r->files[h.file].path, h.def->target,
			    strlen(h.def->target)))
			break;
		if (depth)
			tg_buf_addstr(&b, " -> ");
		tg_buf_addstr(&b, next.def->qualname);
		h = next;
	}
	tg_buf_addf(&b, " (%s:%u, %s)", r->files[end.file].path,
		    (unsigned)end.def->line,
		    end.def->how ? end.def->how : "owns");
	return tg_buf_detach(&b, NULL);
}

enum query { Q_OWNER, Q_DEPENDENCY, Q_ALIAS, Q_FACTORY };

static const struct tg_owner *query(struct tg_resolver *r, enum query q,
				    const char *path, const char *callee,
				    size_t len)
{
	char *key = tg_xasprintf("%d\n%.*s", (int)q, (int)len, callee);
	char *okey = NULL;
	size_t idx, oidx = AMBIGUOUS; /* o's index in owners */
	struct hit h, dep;
	struct tg_owner *o = NULL;
	struct smap *memo;
	char *how = NULL;

	pthread_mutex_lock(&r->mu);
	memo = memo_for(r, path);
	if (smap_get(memo, key, strlen(key), &idx)) {
		pthread_mutex_unlock(&r->mu);
		free(key);
		return idx == AMBIGUOUS ? NULL : r->owners[idx];
	}
	if (lookup(&h, r, path, callee, len)) {
		/* many files reach one definition: one answer for all */
		okey = tg_xasprintf("%d\n%zu\n%zu", (int)q, h.file,
				    (size_t)(h.def - r->files[h.file].inf->defs));
		if (smap_get(&r->owner_of, okey, strlen(okey), &oidx)) {
			o = oidx == AMBIGUOUS ? NULL : r->owners[oidx];
			goto found;
		}
		switch (q) {
		case Q_OWNER:
			if (h.def->kind == TG_DEF_CM)
				how = chain_how(r, h);
			break;
		case Q_DEPENDENCY:
			if (h.def->kind == TG_DEF_GEN)
				how = chain_how(r, h);
			break;
		case Q_ALIAS:
			if (h.def->kind == TG_DEF_ALIAS && h.def->target &&
			    lookup(&dep, r, r->files[h.file].path,
				   h.def->target, strlen(h.def->target)) &&
			    dep.def->kind == TG_DEF_GEN) {
				char *dh = chain_how(r, dep);

				if (dh)
					how = tg_xasprintf(
						"Depends(%s) at %s:%u, %s",
						dep.def->qualname,
						r->files[dep.file].path,
						(unsigned)dep.def->line, dh);
				free(dh);
			}
			break;
		case Q_FACTORY:
			if (h.def->kind == TG_DEF_FACTORY)
				how = tg_xstrdup(h.def->how ? h.def->how :
							      "sessionmaker");
			break;
		}
	}
	if (how) {
		o = tg_xcalloc(1, sizeof(*o));
		o->name = tg_xstrdup(h.def->qualname);
		o->origin = TG_OWNER_INFERRED;
		o->where = tg_xasprintf("%s:%u", r->files[h.file].path,
					(unsigned)h.def->line);
		o->how = how;
		TG_ALLOC_GROW(r->owners, r->nowners + 1, r->alloc_owners);
		oidx = r->nowners;
		r->owners[r->nowners++] = o;
	}
	if (okey)
		smap_put(&r->owner_of, okey, strlen(okey), oidx, true);
found:
	smap_put(memo, key, strlen(key), oidx, true);
	pthread_mutex_unlock(&r->mu);
	free(okey);
	free(key);
	return o;
}

const struct tg_owner *tg_resolver_owner(struct tg_resolver *r,
					 const char *path, const char *callee,
					 size_t len)
{
	return query(r, Q_OWNER, path, callee, len);
}

const struct tg_owner *tg_resolver_dependency(struct tg_resolver *r,
					      const char *path,
					      const char *callee, size_t len)
{
	return query(r, Q_DEPENDENCY, path, callee, len);
}

const struct tg_owner *tg_resolver_alias(struct tg_resolver *r,
					 const char *path, const char *name,
					 size_t len)
{
	return query(r, Q_ALIAS, path, name, len);
}

const struct tg_owner *tg_resolver_factory(struct tg_resolver *r,
					   const char *path,
					   const char *callee, size_t len)
{
	return query(r, Q_FACTORY, path, callee, len);
}
