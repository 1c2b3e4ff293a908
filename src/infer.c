#include "txguard/common.h"
#include "txguard/argsel.h"
#include "txguard/buf.h"
#include "txguard/error.h"
#include "txguard/infer.h"
#include "txguard/owner_table.h"
#include "txguard/node.h"
#include "txguard/pyparse.h"
#include "txguard/strmap.h"

#include <pthread.h>
#include <tree_sitter/api.h>

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

bool tg_infer_wanted(const char *path, const char *src, size_t len)
{
	static const char *const words[] = {
		/* what defines an owner, a factory or an alias */
		"yield", "sessionmaker", "scoped_session", "Depends",
		/*
		 * What a rule needs in a function whose parameter is
		 * annotated with an alias imported from elsewhere (`db:
		 * SessionDep`): its use of the alias must be recorded, or a
		 * change to the alias's dependency would not re-check it.
		 */
		"commit", "rollback", "add_task", "BackgroundTask",
		"create_task", "ensure_future", "run_in_executor", "submit",
		"to_thread", "Thread", "Timer", "Process",
		/*
		 * What a function passing its session on to one that commits
		 * it needs: its summary must be recorded. Such a function
		 * takes or passes a session by a name or annotation like these.
		 */
		"(session", "session,", "session)", "=session", "Session,",
		"Session)", "Session =", "(db", "db,", "db)", "=db",
	};
	size_t plen = path ? strlen(path) : 0;

	/* re-exports live in __init__.py: keep their imports */
	if (plen >= 11 && !strcmp(path + plen - 11, "__init__.py"))
		return true;

	for (size_t i = 0; i < TG_ARRAY_SIZE(words); i++)
		if (has_token(src, len, words[i]))
			return true;
	return has_with_statement(src, len);
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

/*
 * A dotted name as written, whitespace dropped; NULL unless it is only
 * identifiers and dots (a call result or subscript is not a name).
 */
static char *dotted_text(const struct tg_pyfile *py, TSNode n)
{
	uint32_t s, e;
	char *out, *o;

	if (!tg_node_is(n, TG_PK_IDENTIFIER) && !tg_node_is(n, TG_PK_ATTRIBUTE))
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

/* The node's text without whitespace or line continuations. */
static char *squeeze(const struct tg_pyfile *py, TSNode n)
{
	char *t = tg_node_strdup(py, n), *o = t;

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
	char *guard; /* commits: the parameter test it runs under, or NULL */
};

/*
 * A parameter a function commits or rolls back (`verb`), hands to
 * background work (verb "escape"), or passes to `target` as argument
 * `arg` ("0", "session"), under `guard`.
 */
struct psite {
	const struct tg_param *param;
	const char *verb; /* "commit", "rollback", "escape"; NULL: passed on */
	char *target, *arg, *guard;
	uint32_t line;
};

struct func {
	char *name, *qualname;
	uint32_t line;
	/* a method: its class's qualname, last name part and line */
	char *cls_qual, *cls_name;
	uint32_t cls_line;
	/* defined in a function at definition level: "f.<locals>.name" */
	bool nested;
	struct strvec decos;
	bool has_yield, owns;
	char *how;
	char *guard; /* owns only for arguments that select this */
	char *wraps;
	TSNode node;
	/* recorded at definition level: its parameters, what it does with them */
	struct tg_params params;
	struct psite *psites;
	size_t npsites, alloc_psites;
	struct namepos *yields, *commits;
	size_t nyields, alloc_yields, ncommits, alloc_commits;
	/* decorators: the first parameter and the names returned */
	char *param0;
	struct strvec rets;
	/* a decorator's wrapper: it calls param0 with a session it opens */
	char *inj_target, *inj_kw;
	int inj_index;
	size_t inj_dec; /* the decorator's index in funcs */
};

struct assign {
	char *name, *qualname;
	uint32_t line;
	char *callee; /* right side call, or NULL */
	char *class_; /* its `class_=X` argument: X, or NULL */
	bool self_attr; /* `self.name = ...` in a method */
	char *arg; /* the call's first positional argument, dotted, or NULL */
	char *depends; /* Annotated[..., Depends(X)]: X */
};

enum fkind { F_FUNC, F_CLASS, F_LAMBDA, F_WITH, F_EXCEPT };

struct frame {
	const void *id;
	enum fkind kind;
	char *qual;      /* F_CLASS / F_FUNC: qualname */
	char *name;	 /* F_CLASS: its own name */
	uint32_t line;	 /* F_CLASS: 1-based line of the class */
	long func;       /* F_FUNC: index in funcs, -1 when not recorded */
	struct strvec own;   /* F_WITH: names the block owns */
	struct strvec owner; /* F_WITH: owner text per own[] entry */
	struct strvec own_guard; /* F_WITH: the test choosing begin(), or NULL */
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
	struct tg_strmap seen_uses, seen_locals; /* for a linear walk */
	struct tg_strmap imported; /* local name -> its last import */
	struct frame *frames;
	size_t nframes, alloc_frames;
	/* the walk's work so far, and its bound (tg_infer_max_ops) */
	size_t ops, max_ops;
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
	free(f->name);
	sv_release(&f->own);
	sv_release(&f->owner);
	sv_release(&f->own_guard);
	sv_release(&f->alias);
	sv_release(&f->callee);
}

/* The innermost function/class/lambda frame, or NULL at module level. */
static struct frame *scope(struct collect *c, size_t *at)
{
	for (size_t i = c->nframes; i-- > 0;) {
		c->ops++;
		if (c->frames[i].kind == F_FUNC || c->frames[i].kind == F_CLASS ||
		    c->frames[i].kind == F_LAMBDA) {
			if (at)
				*at = i;
			return &c->frames[i];
		}
	}
	return NULL;
}

/* Whether the frames below index `at` are classes only. */
static bool at_definition_level_below(struct collect *c, size_t at)
{
	for (size_t i = 0; i < at; i++) {
		c->ops++;
		if (c->frames[i].kind == F_FUNC ||
		    c->frames[i].kind == F_LAMBDA)
			return false;
	}
	return true;
}

/* Module level or a class body nested only in classes. */
static bool at_definition_level(struct collect *c)
{
	for (size_t i = 0; i < c->nframes; i++) {
		c->ops++;
		if (c->frames[i].kind == F_FUNC ||
		    c->frames[i].kind == F_LAMBDA)
			return false;
	}
	return true;
}

static char *qual_join(struct collect *c, const char *name)
{
	struct frame *s = scope(c, NULL);

	if (!s || !s->qual)
		return tg_xstrdup(name);
	return tg_xasprintf("%s.%s", s->qual, name);
}

/* Whether `s` joins `seen` now (it was not there). */
static bool first_time(struct tg_strmap *seen, const char *s)
{
	bool fresh;

	tg_strmap_insert(seen, s, strlen(s), &fresh);
	return fresh;
}

static void add_use(struct collect *c, char *text)
{
	if (!text)
		return;
	if (!first_time(&c->seen_uses, text)) {
		free(text);
		return;
	}
	sv_push(&c->uses, text);
}

static void add_local(struct collect *c, const char *name)
{
	if (first_time(&c->seen_locals, name))
		sv_push(&c->locals, tg_xstrdup(name));
}

static void add_import(struct collect *c, char *local, char *fqn)
{
	bool fresh;

	/* a later import of the same name wins */
	*tg_strmap_insert(&c->imported, local, strlen(local), &fresh) =
		c->imp_local.nr;
	sv_push(&c->imp_local, local);
	sv_push(&c->imp_fqn, fqn);
}

static void on_import(struct collect *c, TSNode n)
{
	const struct tg_pyfile *py = c->py;
	char *base = NULL;
	TSNode mod = tg_node_child(n, TG_F_MODULE_NAME);

	if (!ts_node_is_null(mod)) {
		if (tg_node_is(mod, TG_PK_RELATIVE_IMPORT)) {
			struct tg_buf b = TG_BUF_INIT;
			uint32_t cnt = ts_node_named_child_count(mod);

			for (uint32_t i = 0; i < cnt; i++) {
				TSNode k = ts_node_named_child(mod, i);
				char *t = tg_node_strdup(py, k);

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
		if (tg_node_is(k, TG_PK_ALIASED_IMPORT)) {
			name = tg_node_child(k, TG_F_NAME);
			alias = tg_node_child(k, TG_F_ALIAS);
		} else if (tg_node_is(k, TG_PK_DOTTED_NAME)) {
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
					      tg_node_strdup(py, alias),
				   full);
		} else if (!ts_node_is_null(alias)) {
			add_import(c, tg_node_strdup(py, alias),
				   tg_xstrdup(nm));
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
	TSNode name = tg_node_child(n, TG_F_NAME);
	TSNode parent = ts_node_parent(n);
	bool record = at_definition_level(c);
	struct frame *cls = scope(c, NULL);
	bool module_level = cls == NULL;
	struct frame *f;
	char *nm = ts_node_is_null(name) ? tg_xstrdup("?") :
					   tg_node_strdup(c->py, name);
	/* a helper local to a function recorded at definition level */
	bool nested = !record && cls && cls->kind == F_FUNC && cls->func >= 0 &&
		      !c->funcs[cls->func].nested;
	char *qual = nested ? tg_xasprintf("%s.<locals>.%s", cls->qual, nm)
			    : qual_join(c, nm);

	if (module_level)
		add_local(c, nm);
	f = push(c, n, F_FUNC);
	f->qual = qual;
	if (record || nested) {
		struct func *fn;

		TG_ALLOC_GROW(c->funcs, c->nfuncs + 1, c->alloc_funcs);
		fn = &c->funcs[c->nfuncs];
		memset(fn, 0, sizeof(*fn));
		fn->name = tg_xstrdup(nm);
		fn->qualname = tg_xstrdup(qual);
		fn->line = ts_node_start_point(n).row + 1;
		fn->nested = nested;
		if (cls && cls->kind == F_CLASS && cls->qual) {
			fn->cls_qual = tg_xstrdup(cls->qual);
			fn->cls_name = tg_xstrdup(cls->name);
			fn->cls_line = cls->line;
		}
		if (tg_node_is(parent, TG_PK_DECORATED)) {
			for (uint32_t i = 0, cnt = ts_node_named_child_count(
						     parent);
			     i < cnt; i++) {
				TSNode d = ts_node_named_child(parent, i);
				char *t;

				if (!tg_node_is(d, TG_PK_DECORATOR))
					continue;
				t = dotted_text(c->py,
						ts_node_named_child(d, 0));
				if (t)
					sv_push(&fn->decos, t);
			}
		}
		fn->node = n;
		if (!nested) {
			bool method = fn->cls_qual != NULL;

			for (size_t i = 0; i < fn->decos.nr; i++)
				if (!strcmp(fn->decos.v[i], "staticmethod"))
					method = false;
			tg_params_read(&fn->params, c->py, n, method);
		}
		f->func = (long)c->nfuncs++;
	}
	free(nm);
}

static void on_class(struct collect *c, TSNode n)
{
	TSNode name = tg_node_child(n, TG_F_NAME);
	char *nm = ts_node_is_null(name) ? tg_xstrdup("?") :
					   tg_node_strdup(c->py, name);
	struct frame *f;

	if (!scope(c, NULL))
		add_local(c, nm);
	f = push(c, n, F_CLASS);
	f->qual = qual_join(c, nm);
	f->name = tg_xstrdup(nm);
	f->line = ts_node_start_point(n).row + 1;
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
	TSNode fn = tg_node_child(call, TG_F_FUNCTION);
	TSNode obj, attr;
	char *a, *o;

	if (!tg_node_is(fn, TG_PK_ATTRIBUTE))
		return NULL;
	attr = tg_node_child(fn, TG_F_ATTRIBUTE);
	obj = tg_node_child(fn, TG_F_OBJECT);
	a = tg_node_strdup(py, attr);
	if (strcmp(a, "begin") && strcmp(a, "begin_nested")) {
		free(a);
		return NULL;
	}
	free(a);
	o = dotted_text(py, obj);
	/* Session.begin() on a call result */
	if (!o && tg_node_is(obj, TG_PK_CALL))
		o = tg_xstrdup("");
	return o;
}

static struct func *cur_func(struct collect *c, size_t *at);

/* The block owns `name` through `owner_text`, when `guard` selects it. */
static void own_name(struct frame *f, const char *name, const char *owner_text,
		     const char *guard)
{
	sv_push(&f->own, tg_xstrdup(name));
	sv_push(&f->owner, tg_xstrdup(owner_text));
	sv_push(&f->own_guard, guard ? tg_xstrdup(guard) : NULL);
}

/*
 * `with s.begin() if P else nullcontext() as t:` with P a parameter:
 * the block owns s (and t) when the call's arguments select begin().
 */
static void conditional_begin(struct collect *c, struct frame *f, TSNode ce,
			      const char *alias)
{
	struct func *fn = cur_func(c, NULL);

	for (uint32_t arm = 0; fn && arm < 2; arm++) {
		TSNode call = tg_node_unparen(
			ts_node_named_child(ce, arm ? 2 : 0));
		char *obj, *g, *txt;

		if (!tg_node_is(call, TG_PK_CALL) ||
		    !(obj = begin_object(c->py, call)))
			continue;
		g = tg_argsel_cond(c->py, ts_node_named_child(ce, 1), arm == 1,
				   &fn->params);
		txt = tg_xasprintf("%s.begin()", obj);
		if (g && obj[0])
			own_name(f, obj, txt, g);
		if (g && alias)
			own_name(f, alias, txt, g);
		free(txt);
		free(g);
		free(obj);
	}
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

		if (!tg_node_is(item, TG_PK_WITH_ITEM))
			continue;
		v = tg_node_child(item, TG_F_VALUE);
		if (tg_node_is(v, TG_PK_AS_PATTERN)) {
			TSNode t = tg_node_child(v, TG_F_ALIAS);

			call = ts_node_named_child(v, 0);
			if (!ts_node_is_null(t))
				target = ts_node_named_child(t, 0);
			if (tg_node_is(target, TG_PK_IDENTIFIER))
				alias = tg_node_strdup(c->py, target);
		} else {
			call = v;
		}
		if (tg_node_is(call, TG_PK_CONDITIONAL))
			conditional_begin(c, f, call, alias);
		if (!tg_node_is(call, TG_PK_CALL)) {
			free(alias);
			continue;
		}
		callee = dotted_text(c->py, tg_node_child(call, TG_F_FUNCTION));
		obj = begin_object(c->py, call);
		if (obj) {
			char *txt = tg_xasprintf("%s.begin()", obj);

			/* `with s.begin():` owns s; `... as t` owns t */
			if (obj[0])
				own_name(f, obj, txt, NULL);
			if (alias)
				own_name(f, alias, txt, NULL);
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

/*
 * The function owns, the way `how` says, for the arguments `guard`
 * selects (NULL: always). Later evidence only widens a guarded owner
 * to an unconditional one. Takes both strings.
 */
static void set_owns(struct func *fn, char *how, char *guard)
{
	if (fn->owns) {
		if (fn->guard && !guard) {
			free(fn->guard);
			fn->guard = NULL;
		}
		free(how);
		free(guard);
		return;
	}
	fn->owns = true;
	free(fn->how);
	fn->how = how;
	fn->guard = guard;
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
	    tg_node_is(ts_node_child(n, 1), TG_PK_FROM))
		return;
	if (!tg_node_is(v, TG_PK_IDENTIFIER))
		return;
	name = tg_node_strdup(c->py, v);
	for (size_t i = c->nframes; i-- > at + 1;) {
		struct frame *f = &c->frames[i];

		c->ops += 1 + f->own.nr + f->alias.nr;
		if (f->kind != F_WITH)
			continue;
		for (size_t k = 0; k < f->own.nr && !fn->owns; k++) {
			if (strcmp(f->own.v[k], name))
				continue;
			set_owns(fn, tg_xasprintf("yields inside %s",
						  f->owner.v[k]),
				 f->own_guard.v[k] ?
					 tg_xstrdup(f->own_guard.v[k]) :
					 tg_argsel_guard(c->py, n, fn->node,
							 &fn->params));
		}
		for (size_t k = 0; k < f->alias.nr && !fn->wraps; k++)
			if (!strcmp(f->alias.v[k], name))
				fn->wraps = tg_xstrdup(f->callee.v[k]);
	}
	TG_ALLOC_GROW(fn->yields, fn->nyields + 1, fn->alloc_yields);
	fn->yields[fn->nyields].name = name;
	fn->yields[fn->nyields++].pos = ts_node_start_byte(n);
}

static void add_psite(struct collect *c, struct func *fn, TSNode call,
		      const struct tg_param *p, const char *verb,
		      char *target, char *arg)
{
	struct psite *ps;

	TG_ALLOC_GROW(fn->psites, fn->npsites + 1, fn->alloc_psites);
	ps = &fn->psites[fn->npsites++];
	ps->param = p;
	ps->verb = verb;
	ps->target = target;
	ps->arg = arg;
	ps->guard = tg_argsel_guard(c->py, call, fn->node, &fn->params);
	ps->line = ts_node_start_point(call).row + 1;
}

/* Is `name` a session the function holds: a parameter or a `with` alias? */
static bool held_name(struct collect *c, const struct func *fn, size_t at,
		      const char *name, size_t len)
{
	if (tg_params_find(&fn->params, name, len))
		return true;
	for (size_t i = at + 1; i < c->nframes; i++) {
		const struct frame *f = &c->frames[i];

		c->ops += 1 + f->own.nr + f->alias.nr;
		if (f->kind != F_WITH)
			continue;
		for (size_t k = 0; k < f->own.nr; k++)
			if (tg_node_text_is(name, len, f->own.v[k]))
				return true;
		for (size_t k = 0; k < f->alias.nr; k++)
			if (tg_node_text_is(name, len, f->alias.v[k]))
				return true;
	}
	return false;
}

/*
 * The callee a function may pass a session to, as a summary records
 * it: a name or dotted name the resolver can follow; not a method of a
 * parameter (a runtime object), a class (a constructor keeps the
 * session, it does not commit it) or a builtin. NULL otherwise.
 */
static char *passes_to(struct collect *c, const struct func *fn, size_t at,
		       TSNode fnode)
{
	static const char *const builtins[] = {
		"print", "len",	  "str",     "int",	 "repr",   "isinstance",
		"getattr", "setattr", "hasattr", "type", "list", "dict",
		"set",	 "tuple", "sorted", "enumerate", "zip", "iter",
		"next",	 "id",	  "hash",   "vars",	 "super",  "format",
		"any",	 "all",	  "min",    "max",	 "sum",	   "bool",
		"float", "callable", "cast",
	};
	char *t;
	const char *dot, *last;

	for (TSNode o = fnode; tg_node_is(o, TG_PK_ATTRIBUTE);)
		if (!tg_node_is(o = tg_node_child(o, TG_F_OBJECT),
				TG_PK_ATTRIBUTE) &&
		    !tg_node_is(o, TG_PK_IDENTIFIER))
			return NULL;
	if (!(t = dotted_text(c->py, fnode)))
		return NULL;
	dot = strchr(t, '.');
	last = tg_node_last_part(t, strlen(t), NULL);
	if ((dot && held_name(c, fn, at, t, (size_t)(dot - t))) ||
	    (*last >= 'A' && *last <= 'Z'))
		goto no;
	for (size_t i = 0; !dot && i < TG_ARRAY_SIZE(builtins); i++)
		if (!strcmp(t, builtins[i]))
			goto no;
	return t;
no:
	free(t);
	return NULL;
}

/*
 * `background_tasks.add_task(...)`, `asyncio.create_task(...)`,
 * `Thread(...)`, `loop.run_in_executor(...)` and the like: work that
 * outlives the call (the same callees TX004 knows).
 */
static bool background_call(struct collect *c, TSNode fnode)
{
	static const char *const work[] = {
		"add_task",	   "BackgroundTask", "create_task",
		"ensure_future",   "run_in_executor", "submit",
		"to_thread",	   "Thread",	      "Timer",
		"Process",
	};
	TSNode last = tg_node_is(fnode, TG_PK_ATTRIBUTE) ?
			      tg_node_child(fnode, TG_F_ATTRIBUTE) :
			      fnode;
	size_t len;
	const char *s;

	if (!tg_node_is(last, TG_PK_IDENTIFIER))
		return false;
	s = tg_node_text(c->py, last, &len);
	for (size_t i = 0; i < TG_ARRAY_SIZE(work); i++)
		if (tg_node_text_is(s, len, work[i]))
			return true;
	return false;
}

/*
 * A background call handing a parameter over: as an argument, inside a
 * call made for the work (`create_task(sync(session))`) or in a tuple or
 * list of arguments (`Thread(target=f, args=(session,))`). Records the
 * site; whether one was found.
 */
static bool escaping_param(struct collect *c, struct func *fn, TSNode call)
{
	TSNode args = tg_node_child(call, TG_F_ARGUMENTS);
	TSNode stack[16];
	int depth = 0;

	stack[depth++] = args;
	while (depth > 0) {
		TSNode n = stack[--depth];

		for (uint32_t i = 0, cnt = ts_node_named_child_count(n);
		     i < cnt; i++) {
			TSNode k = ts_node_named_child(n, i);
			unsigned kind = tg_node_kind(k);
			const struct tg_param *p;
			const char *t;
			size_t len;

			c->ops++;
			if (kind == TG_PK_KEYWORD_ARG) {
				k = tg_node_child(k, TG_F_VALUE);
				kind = tg_node_kind(k);
			}
			if (kind == TG_PK_CALL) {
				k = tg_node_child(k, TG_F_ARGUMENTS);
				kind = TG_PK_ARGUMENT_LIST;
			}
			if ((kind == TG_PK_ARGUMENT_LIST ||
			     kind == TG_PK_TUPLE || kind == TG_PK_LIST) &&
			    depth < 16) {
				stack[depth++] = k;
				continue;
			}
			if (kind != TG_PK_IDENTIFIER)
				continue;
			t = tg_node_text(c->py, k, &len);
			if ((p = tg_params_find(&fn->params, t, len)) &&
			    !p->plain) {
				add_psite(c, fn, call, p, "escape", NULL, NULL);
				return true;
			}
		}
	}
	return false;
}

/*
 * A call in a function: `p.commit()` / `p.rollback()` on a parameter p,
 * or a call passing p on, makes a site of the function's summary
 * (outside except clauses: a rollback on error is the error path's
 * business). A call passing a session the function holds records the
 * callee as a use, so that a change making it commit re-checks this
 * file.
 */
static void on_call_args(struct collect *c, TSNode n, struct func *fn,
			 size_t at)
{
	TSNode fnode = tg_node_child(n, TG_F_FUNCTION);
	TSNode args = tg_node_child(n, TG_F_ARGUMENTS);
	bool summarise = !fn->nested && fn->params.nr && fn->npsites < 32;
	bool used = false;
	char *target = NULL;
	struct tg_arg arg = { 0 };
	uint32_t i = 0;

	for (size_t f = at + 1; summarise && f < c->nframes; f++) {
		c->ops++;
		if (c->frames[f].kind == F_EXCEPT)
			summarise = false;
	}
	if (summarise && background_call(c, fnode) &&
	    escaping_param(c, fn, n))
		return;
	if (summarise && tg_node_is(fnode, TG_PK_ATTRIBUTE)) {
		TSNode obj = tg_node_child(fnode, TG_F_OBJECT);
		TSNode attr = tg_node_child(fnode, TG_F_ATTRIBUTE);
		const struct tg_param *p = NULL;
		size_t olen, alen;
		const char *o, *a;

		if (tg_node_is(obj, TG_PK_IDENTIFIER)) {
			o = tg_node_text(c->py, obj, &olen);
			p = tg_params_find(&fn->params, o, olen);
		}
		if (p) {
			a = tg_node_text(c->py, attr, &alen);
			if (tg_node_text_is(a, alen, "commit"))
				add_psite(c, fn, n, p, "commit", NULL, NULL);
			else if (tg_node_text_is(a, alen, "rollback"))
				add_psite(c, fn, n, p, "rollback", NULL, NULL);
			return; /* a method of the session itself */
		}
	}
	while (tg_node_next_arg(args, &i, &arg)) {
		const struct tg_param *p;
		const char *t;
		size_t len;

		c->ops++;
		if (!tg_node_is(arg.value, TG_PK_IDENTIFIER))
			continue;
		t = tg_node_text(c->py, arg.value, &len);
		if (!used && held_name(c, fn, at, t, len)) {
			used = true;
			add_use(c, dotted_text(c->py, fnode));
		}
		if (!summarise || !(p = tg_params_find(&fn->params, t, len)) ||
		    !p->session_like || (arg.pos >= 0 && arg.after_splat))
			continue;
		if (!target && !(target = passes_to(c, fn, at, fnode)))
			return;
		add_psite(c, fn, n, p, NULL, tg_xstrdup(target),
			  arg.pos >= 0 ? tg_xasprintf("%ld", arg.pos) :
					 tg_node_strdup(c->py, arg.keyword));
	}
	free(target);
}

static void on_call(struct collect *c, TSNode n)
{
	TSNode fnode = tg_node_child(n, TG_F_FUNCTION);
	size_t at;
	struct func *fn;

	if (tg_node_is(fnode, TG_PK_IDENTIFIER) ||
	    tg_node_is(fnode, TG_PK_ATTRIBUTE)) {
		uint32_t s = ts_node_start_byte(fnode),
			 e = ts_node_end_byte(fnode);

		/* Depends(X) / x.Depends(X) / Depends(dependency=X) */
		if (e - s >= 7 && !memcmp(c->py->src + e - 7, "Depends", 7)) {
			TSNode args = tg_node_child(n, TG_F_ARGUMENTS);
			TSNode a = ts_node_named_child(args, 0);

			if (tg_node_is(a, TG_PK_KEYWORD_ARG))
				a = tg_node_child(a, TG_F_VALUE);
			add_use(c, dotted_text(c->py, a));
		}
	}
	fn = cur_func(c, &at);
	if (fn)
		on_call_args(c, n, fn, at);
	if (!fn || !tg_node_is(fnode, TG_PK_ATTRIBUTE))
		return;
	for (size_t i = at + 1; i < c->nframes; i++) {
		c->ops++;
		if (c->frames[i].kind == F_EXCEPT)
			return; /* a commit only on error does not own */
	}
	{
		TSNode attr = tg_node_child(fnode, TG_F_ATTRIBUTE);
		TSNode obj = tg_node_child(fnode, TG_F_OBJECT);
		uint32_t s = ts_node_start_byte(attr);

		if (ts_node_end_byte(attr) - s != 6 ||
		    memcmp(c->py->src + s, "commit", 6) ||
		    (!tg_node_is(obj, TG_PK_IDENTIFIER) &&
		     !tg_node_is(obj, TG_PK_ATTRIBUTE)))
			return;
		TG_ALLOC_GROW(fn->commits, fn->ncommits + 1, fn->alloc_commits);
		fn->commits[fn->ncommits].name = tg_node_strdup(c->py, obj);
		fn->commits[fn->ncommits].guard =
			tg_argsel_guard(c->py, n, fn->node, &fn->params);
		fn->commits[fn->ncommits++].pos = ts_node_start_byte(n);
	}
}

/* Annotated[T, Depends(X)] -> X */
static char *annotated_depends(const struct tg_pyfile *py, TSNode sub)
{
	TSNode v = tg_node_child(sub, TG_F_VALUE);
	char *vt = dotted_text(py, v);
	bool ok = vt && !strcmp(tg_node_last_part(vt, strlen(vt), NULL),
				"Annotated");

	free(vt);
	if (!ok)
		return NULL;
	for (uint32_t i = 1, cnt = ts_node_named_child_count(sub); i < cnt;
	     i++) {
		TSNode k = ts_node_named_child(sub, i);
		TSNode f, a;
		char *ft;

		if (!tg_node_is(k, TG_PK_CALL))
			continue;
		f = tg_node_child(k, TG_F_FUNCTION);
		ft = dotted_text(py, f);
		ok = ft && !strcmp(tg_node_last_part(ft, strlen(ft), NULL),
				    "Depends");
		free(ft);
		if (!ok)
			continue;
		a = ts_node_named_child(
			tg_node_child(k, TG_F_ARGUMENTS), 0);
		if (tg_node_is(a, TG_PK_KEYWORD_ARG))
			a = tg_node_child(a, TG_F_VALUE);
		return dotted_text(py, a);
	}
	return NULL;
}

/* The value of a call's `class_=X` keyword argument: X, or NULL. */
static char *class_argument(const struct tg_pyfile *py, TSNode args)
{
	for (uint32_t i = 0, cnt = ts_node_named_child_count(args); i < cnt;
	     i++) {
		TSNode k = ts_node_named_child(args, i);
		TSNode name = tg_node_child(k, TG_F_NAME);
		size_t len;
		const char *t;

		if (!tg_node_is(k, TG_PK_KEYWORD_ARG) || ts_node_is_null(name))
			continue;
		t = tg_node_text(py, name, &len);
		if (tg_node_text_is(t, len, "class_"))
			return dotted_text(py, tg_node_child(k, TG_F_VALUE));
	}
	return NULL;
}

/*
 * `self.NAME = Cls(...)` in a method of a class at definition level: an
 * instance held by the class, recorded as "Class.NAME".
 */
static void on_self_assign(struct collect *c, TSNode left, TSNode right,
			   uint32_t line)
{
	TSNode obj = tg_node_child(left, TG_F_OBJECT);
	TSNode attr = tg_node_child(left, TG_F_ATTRIBUTE);
	struct frame *cls = NULL;
	struct assign *a;
	size_t at, len;
	const char *t;

	if (!tg_node_is(obj, TG_PK_IDENTIFIER) ||
	    !tg_node_is(right, TG_PK_CALL) || ts_node_is_null(attr))
		return;
	t = tg_node_text(c->py, obj, &len);
	if (!tg_node_text_is(t, len, "self") || !cur_func(c, &at))
		return;
	for (size_t i = at; i-- > 0;) {
		c->ops++;
		if (c->frames[i].kind == F_FUNC ||
		    c->frames[i].kind == F_LAMBDA)
			return;
		if (c->frames[i].kind == F_CLASS) {
			cls = &c->frames[i];
			break;
		}
	}
	if (!cls || !cls->qual || !at_definition_level_below(c, at))
		return;
	TG_ALLOC_GROW(c->assigns, c->nassigns + 1, c->alloc_assigns);
	a = &c->assigns[c->nassigns++];
	memset(a, 0, sizeof(*a));
	a->name = tg_node_strdup(c->py, attr);
	a->qualname = tg_xasprintf("%s.%s", cls->qual, a->name);
	a->line = line;
	a->callee = dotted_text(c->py, tg_node_child(right, TG_F_FUNCTION));
	a->self_attr = true;
}

static void on_assign(struct collect *c, TSNode n)
{
	TSNode left = tg_node_child(n, TG_F_LEFT);
	TSNode right = tg_node_child(n, TG_F_RIGHT);
	struct assign *a;
	char *name;

	if (tg_node_is(left, TG_PK_ATTRIBUTE)) {
		on_self_assign(c, left, right, ts_node_start_point(n).row + 1);
		return;
	}
	if (!at_definition_level(c) || !tg_node_is(left, TG_PK_IDENTIFIER))
		return;
	name = tg_node_strdup(c->py, left);
	if (!scope(c, NULL))
		add_local(c, name);
	if (tg_node_is(right, TG_PK_CALL) ||
	    tg_node_is(right, TG_PK_SUBSCRIPT)) {
		TG_ALLOC_GROW(c->assigns, c->nassigns + 1, c->alloc_assigns);
		a = &c->assigns[c->nassigns++];
		memset(a, 0, sizeof(*a));
		a->name = tg_xstrdup(name);
		a->qualname = qual_join(c, name);
		a->line = ts_node_start_point(n).row + 1;
		if (tg_node_is(right, TG_PK_CALL)) {
			a->callee = dotted_text(
				c->py,
				tg_node_child(right, TG_F_FUNCTION));
			a->class_ = class_argument(
				c->py, tg_node_child(right, TG_F_ARGUMENTS));
			a->arg = dotted_text(
				c->py,
				ts_node_named_child(
					tg_node_child(right, TG_F_ARGUMENTS),
					0));
		} else
			a->depends = annotated_depends(c->py, right);
	}
	free(name);
}

static void on_param(struct collect *c, TSNode n)
{
	TSNode t = tg_node_child(n, TG_F_TYPE);
	TSNode v = tg_node_child(n, TG_F_VALUE);
	char *txt;
	static const char *const skip[] = { "int", "str", "bool", "float",
					     "bytes", "dict", "list", "set",
					     "tuple", "object", "Any" };

	/* `session = SessionDep`: a default that may be a Depends alias */
	if (tg_node_is(v, TG_PK_IDENTIFIER) || tg_node_is(v, TG_PK_ATTRIBUTE))
		add_use(c, dotted_text(c->py, v));
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

/* ---- decorators that inject a session ------------------------------- */

/*
 * Decorators that say how a function is bound or cached, never what it
 * is given: not recorded as uses.
 */
static bool plain_decorator(const char *d)
{
	static const char *const names[] = {
		"property",	   "staticmethod",   "classmethod",
		"abstractmethod",  "setter",	     "getter",
		"deleter",	   "overload",	     "override",
		"cached_property", "cache",	     "lru_cache",
		"wraps",	   "contextmanager", "asynccontextmanager",
	};
	const char *l = tg_node_last_part(d, strlen(d), NULL);

	for (size_t i = 0; i < TG_ARRAY_SIZE(names); i++)
		if (!strcmp(l, names[i]))
			return true;
	return false;
}

/*
 * Entering a def (its frame pushed): its decorators are uses, so a
 * change to a decorator's definition re-checks the functions it
 * decorates; a module-level function keeps its first parameter's name,
 * the function a decorator wraps.
 */
static void decorator_on_func(struct collect *c, TSNode n)
{
	TSNode parent = ts_node_parent(n);
	struct frame *f = c->nframes ? &c->frames[c->nframes - 1] : NULL;
	struct func *fn;
	TSNode first;

	if (tg_node_is(parent, TG_PK_DECORATED)) {
		TSTreeCursor cur = ts_tree_cursor_new(parent);

		for (bool more = ts_tree_cursor_goto_first_child(&cur); more;
		     more = ts_tree_cursor_goto_next_sibling(&cur)) {
			TSNode d = ts_tree_cursor_current_node(&cur);
			char *t;

			c->ops++;
			if (!tg_node_is(d, TG_PK_DECORATOR))
				continue;
			t = dotted_text(c->py, ts_node_named_child(d, 0));
			if (t && !plain_decorator(t))
				add_use(c, t);
			else
				free(t);
		}
		ts_tree_cursor_delete(&cur);
	}
	if (!f || f->kind != F_FUNC || f->id != n.id || f->func < 0)
		return;
	fn = &c->funcs[f->func];
	first = tg_node_child(n, TG_F_PARAMETERS);
	if (fn->nested || strchr(fn->qualname, '.') || ts_node_is_null(first))
		return;
	first = ts_node_named_child(first, 0);
	if (tg_node_is(first, TG_PK_TYPED_PARAM))
		first = ts_node_named_child(first, 0);
	if (tg_node_is(first, TG_PK_IDENTIFIER))
		fn->param0 = tg_node_strdup(c->py, first);
}

/* `return NAME` in a function that may be a decorator. */
static void decorator_on_return(struct collect *c, TSNode n)
{
	struct func *fn = cur_func(c, NULL);
	TSNode v = ts_node_named_child(n, 0);

	if (fn && fn->param0 && tg_node_is(v, TG_PK_IDENTIFIER))
		sv_push(&fn->rets, tg_node_strdup(c->py, v));
}

/*
 * The callee that opened the block binding `name` in the frames above
 * index `at`, innermost first: "s.begin" for `with s.begin():` (or `...
 * as name`), "get_session" for `with get_session() as name:`. NULL when
 * no block binds it.
 */
static char *with_target(struct collect *c, size_t at, const char *name)
{
	for (size_t i = c->nframes; i-- > at + 1;) {
		struct frame *f = &c->frames[i];

		c->ops += 1 + f->own.nr + f->alias.nr;
		if (f->kind != F_WITH)
			continue;
		for (size_t k = 0; k < f->own.nr; k++) {
			const char *o = f->owner.v[k];
			size_t ol = strlen(o);

			if (!strcmp(f->own.v[k], name) && ol > 2)
				return tg_xstrndup(o, ol - 2); /* "()" */
		}
		for (size_t k = 0; k < f->alias.nr; k++)
			if (!strcmp(f->alias.v[k], name))
				return tg_xstrdup(f->callee.v[k]);
	}
	return NULL;
}

/*
 * A call in a wrapper (a function defined in a module-level function D)
 * of D's first parameter, passing a name a `with` around the call binds:
 * as keyword K (`func(*args, session=s, **kwargs)`) or as positional
 * argument i, no `*args` before it (`func(s, *args)`). The first such
 * call of a wrapper is its injection.
 */
static void decorator_on_call(struct collect *c, TSNode n)
{
	TSNode fnode = tg_node_child(n, TG_F_FUNCTION);
	TSNode args = tg_node_child(n, TG_F_ARGUMENTS);
	struct func *w, *d = NULL;
	size_t at, len;
	const char *t;
	int pos = 0;
	bool splat = false;
	TSTreeCursor cur;

	if (!tg_node_is(fnode, TG_PK_IDENTIFIER) ||
	    !tg_node_is(args, TG_PK_ARGUMENT_LIST) || !(w = cur_func(c, &at)) ||
	    !w->nested || w->inj_target)
		return;
	for (size_t i = at; i-- > 0;) {
		c->ops++;
		if (c->frames[i].kind == F_CLASS ||
		    c->frames[i].kind == F_LAMBDA)
			return;
		if (c->frames[i].kind == F_FUNC) {
			if (c->frames[i].func >= 0)
				d = &c->funcs[c->frames[i].func];
			break;
		}
	}
	if (!d || !d->param0)
		return;
	t = tg_node_text(c->py, fnode, &len);
	if (!tg_node_text_is(t, len, d->param0))
		return;
	/* a cursor: ts_node_named_child() counts from the first child */
	cur = ts_tree_cursor_new(args);
	for (bool more = ts_tree_cursor_goto_first_child(&cur); more;
	     more = ts_tree_cursor_goto_next_sibling(&cur)) {
		TSNode a = ts_tree_cursor_current_node(&cur), v = a;
		char *kw = NULL, *name, *target;

		c->ops++;
		if (!ts_node_is_named(a) || tg_node_is(a, TG_PK_COMMENT))
			continue;
		if (tg_node_is(a, TG_PK_KEYWORD_ARG)) {
			TSNode k = tg_node_child(a, TG_F_NAME);

			if (ts_node_is_null(k))
				continue;
			kw = tg_node_strdup(c->py, k);
			v = tg_node_child(a, TG_F_VALUE);
		} else if (*tg_node_text(c->py, a, &len) == '*') {
			splat = true; /* *args, **kwargs */
			continue;
		}
		if (!kw)
			pos++; /* the index of the next positional argument */
		if (!tg_node_is(v, TG_PK_IDENTIFIER) || (!kw && splat)) {
			free(kw);
			continue;
		}
		name = tg_node_strdup(c->py, v);
		target = with_target(c, at, name);
		free(name);
		if (target) {
			w->inj_target = target;
			w->inj_kw = kw;
			w->inj_index = kw ? -1 : pos - 1;
			w->inj_dec = (size_t)(d - c->funcs);
			break;
		}
		free(kw);
	}
	ts_tree_cursor_delete(&cur);
}

/* The nodes the decorator records need, seen after enter()'s own work. */
static void decorator_enter(struct collect *c, TSNode n, unsigned k)
{
	if (k == TG_PK_FUNCTION)
		decorator_on_func(c, n);
	else if (k == TG_PK_RETURN)
		decorator_on_return(c, n);
	else if (k == TG_PK_CALL)
		decorator_on_call(c, n);
}

static void enter(struct collect *c, TSNode n)
{
	unsigned k = tg_node_kind(n);

	if (k == TG_PK_CALL)
		on_call(c, n);
	else if (k == TG_PK_FUNCTION)
		on_func(c, n);
	else if (k == TG_PK_CLASS)
		on_class(c, n);
	else if (k == TG_PK_LAMBDA)
		push(c, n, F_LAMBDA);
	else if (k == TG_PK_WITH)
		on_with(c, n);
	else if (k == TG_PK_EXCEPT || k == TG_PK_EXCEPT_GROUP)
		push(c, n, F_EXCEPT);
	else if (k == TG_PK_YIELD)
		on_yield(c, n);
	else if (k == TG_PK_ASSIGNMENT)
		on_assign(c, n);
	else if (k == TG_PK_TYPED_PARAM || k == TG_PK_TYPED_DEFAULT ||
		 k == TG_PK_DEFAULT_PARAM)
		on_param(c, n);
	else if ((k == TG_PK_IMPORT || k == TG_PK_IMPORT_FROM) &&
		 at_definition_level(c))
		on_import(c, n);
	decorator_enter(c, n, k);
}

static void finish_func(struct func *fn)
{
	if (fn->owns)
		return;
	/* A commit after the yield, outside an except clause */
	for (size_t i = 0; i < fn->ncommits && !fn->owns; i++) {
		for (size_t k = 0; k < fn->nyields; k++) {
			if (strcmp(fn->yields[k].name, fn->commits[i].name) ||
			    fn->yields[k].pos >= fn->commits[i].pos)
				continue;
			set_owns(fn, tg_xstrdup("commits after yield"),
				 fn->commits[i].guard ?
					 tg_xstrdup(fn->commits[i].guard) :
					 NULL);
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
	size_t i;

	if (tg_strmap_get(&c->imported, text, first, &i))
		return tg_xasprintf("%s%s", c->imp_fqn.v[i], dot ? dot : "");
	return tg_xstrdup(text);
}

static bool is_cm_decorator(const struct collect *c, const char *d)
{
	char *q = qualify(c, d);
	const char *l = tg_node_last_part(q, strlen(q), NULL);
	bool yes = !strcmp(l, "contextmanager") ||
		   !strcmp(l, "asynccontextmanager");

	free(q);
	return yes;
}

static bool is_factory_call(const struct collect *c, const char *callee)
{
	char *q = qualify(c, callee);
	const char *l = tg_node_last_part(q, strlen(q), NULL);
	bool yes = !strcmp(l, "sessionmaker") ||
		   !strcmp(l, "async_sessionmaker") ||
		   !strcmp(l, "scoped_session") ||
		   !strcmp(l, "async_scoped_session");

	free(q);
	return yes;
}

/* ---- the record ------------------------------------------------------ */

/*
 * A class owner: `fn` is the class's `__exit__` / `__aexit__` and commits
 * `self` (a Session subclass) or an attribute of it (a unit of work
 * holding a session) outside an except clause. Its "how", or NULL.
 */
static const char *exit_commits(const struct func *fn)
{
	bool aexit;

	if (!fn->cls_qual)
		return NULL;
	aexit = !strcmp(fn->name, "__aexit__");
	if (!aexit && strcmp(fn->name, "__exit__"))
		return NULL;
	for (size_t i = 0; i < fn->ncommits; i++) {
		const char *o = fn->commits[i].name;

		if (!strcmp(o, "self") || !strncmp(o, "self.", 5))
			return aexit ? "commits in __aexit__"
				     : "commits in __exit__";
	}
	return NULL;
}

/* `Database`, `db.Database`: a name that reads as a class. */
static bool is_class_name(const char *callee)
{
	const char *l = tg_node_last_part(callee, strlen(callee), NULL);

	return *l >= 'A' && *l <= 'Z';
}

static bool has_def(const struct tg_inferred *inf, const char *qualname)
{
	for (size_t i = 0; i < inf->ndefs; i++)
		if (!strcmp(inf->defs[i].qualname, qualname))
			return true;
	return false;
}

static bool same_site(const struct psite *a, const struct psite *b)
{
	return a->param == b->param &&
	       !strcmp(a->verb ? a->verb : "", b->verb ? b->verb : "") &&
	       !strcmp(a->target ? a->target : "", b->target ? b->target : "") &&
	       !strcmp(a->arg ? a->arg : "", b->arg ? b->arg : "") &&
	       !strcmp(a->guard ? a->guard : "", b->guard ? b->guard : "");
}

/* One TG_DEF_COMMITS per distinct thing `fn` does with a parameter. */
static void add_commit_defs(struct tg_inferred *inf, const struct func *fn)
{
	for (size_t i = 0; i < fn->npsites; i++) {
		const struct psite *ps = &fn->psites[i];
		struct tg_def *d;
		bool seen = false;

		for (size_t k = 0; k < i && !seen; k++)
			seen = same_site(&fn->psites[k], ps);
		if (seen)
			continue;
		d = &inf->defs[inf->ndefs++];
		d->kind = TG_DEF_COMMITS;
		d->line = ps->line;
		d->name = fn->name;
		d->qualname = fn->qualname;
		d->how = ps->verb;
		d->target = ps->target;
		d->arg = ps->arg;
		d->param = ps->param->name;
		d->param_index = ps->param->index;
		d->guard = ps->guard;
	}
}

/*
 * A module-level function D returning a wrapper of its own that calls
 * D's first parameter with a session a `with` in the wrapper opens: a
 * decorator injecting that session (`target` the callee that opened it,
 * as written in the file). One definition a function at most.
 */
static void decorator_defs(struct collect *c, struct tg_inferred *inf)
{
	for (size_t i = 0; i < c->nfuncs; i++) {
		const struct func *w = &c->funcs[i], *d;
		bool returned = false;
		struct tg_def *def;

		if (!w->nested || !w->inj_target)
			continue;
		d = &c->funcs[w->inj_dec];
		for (size_t k = 0; k < d->rets.nr && !returned; k++)
			returned = !strcmp(d->rets.v[k], w->name);
		if (!returned || has_def(inf, d->qualname))
			continue;
		def = &inf->defs[inf->ndefs++];
		def->kind = TG_DEF_DECORATOR;
		def->line = d->line;
		def->name = d->name;
		def->qualname = d->qualname;
		def->target = w->inj_target;
		def->param = w->inj_kw;
		def->param_index = w->inj_index;
	}
}

static void serialize(struct tg_buf *out, struct collect *c, unsigned flags)
{
	struct tg_inferred inf;
	struct tg_def *d;
	size_t nsites = 0;

	memset(&inf, 0, sizeof(inf));
	inf.nimports = c->imp_local.nr;
	inf.imports = tg_xcalloc(inf.nimports + 1, sizeof(*inf.imports));
	for (size_t i = 0; i < inf.nimports; i++) {
		inf.imports[i].local = c->imp_local.v[i];
		inf.imports[i].fqn = c->imp_fqn.v[i];
	}
	for (size_t i = 0; i < c->nfuncs; i++)
		nsites += c->funcs[i].npsites;
	inf.defs = tg_xcalloc(c->nfuncs + c->nassigns + nsites + 1,
			      sizeof(*inf.defs));
	for (size_t i = 0; i < c->nfuncs; i++) {
		struct func *fn = &c->funcs[i];
		const char *exit_how = exit_commits(fn);
		bool cm = false;

		if (exit_how && !has_def(&inf, fn->cls_qual)) {
			d = &inf.defs[inf.ndefs++];
			d->kind = TG_DEF_CM;
			d->owns = true;
			d->line = fn->cls_line;
			d->name = fn->cls_name;
			d->qualname = fn->cls_qual;
			d->how = exit_how;
			continue;
		}
		for (size_t k = 0; k < fn->decos.nr && !cm; k++)
			cm = is_cm_decorator(c, fn->decos.v[k]);
		/*
		 * A local helper is recorded owning or not: it shadows any
		 * other definition of its name in the function using it.
		 */
		if (fn->nested && cm) {
			d = &inf.defs[inf.ndefs++];
			d->kind = TG_DEF_CM;
			d->owns = fn->owns;
			d->line = fn->line;
			d->name = fn->name;
			d->qualname = fn->qualname;
			d->target = fn->owns ? NULL : fn->wraps;
			d->how = fn->owns ? fn->how : NULL;
			d->guard = fn->owns ? fn->guard : NULL;
			continue;
		}
		if (fn->nested || (!cm && !fn->has_yield))
			continue;
		if (!fn->owns && !fn->wraps)
			continue;
		d = &inf.defs[inf.ndefs++];
		d->kind = cm ? TG_DEF_CM : TG_DEF_GEN;
		d->owns = fn->owns;
		d->line = fn->line;
		d->name = fn->name;
		d->qualname = fn->qualname;
		d->target = fn->owns ? NULL : fn->wraps;
		d->how = fn->owns ? fn->how : NULL;
		d->guard = fn->owns ? fn->guard : NULL;
	}
	decorator_defs(c, &inf);
	for (size_t i = 0; i < c->nassigns; i++) {
		struct assign *a = &c->assigns[i];

		if (a->callee && !a->self_attr &&
		    is_factory_call(c, a->callee)) {
			d = &inf.defs[inf.ndefs++];
			d->kind = TG_DEF_FACTORY;
			d->how = tg_node_last_part(a->callee, strlen(a->callee),
						   NULL);
			d->target = a->class_;
		} else if (a->callee && a->arg && !a->self_attr &&
			   !strcmp(tg_node_last_part(a->callee,
						     strlen(a->callee), NULL),
				   "Depends")) {
			/* NAME = Depends(P): an alias used as a default */
			d = &inf.defs[inf.ndefs++];
			d->kind = TG_DEF_ALIAS;
			d->target = a->arg;
		} else if (a->callee && a->arg && !a->self_attr &&
			   is_cm_decorator(c, a->callee)) {
			/* NAME = asynccontextmanager(gen): wraps gen */
			d = &inf.defs[inf.ndefs++];
			d->kind = TG_DEF_CM;
			d->target = a->arg;
		} else if (a->depends && !a->self_attr) {
			d = &inf.defs[inf.ndefs++];
			d->kind = TG_DEF_ALIAS;
			d->target = a->depends;
		} else if (a->callee && is_class_name(a->callee)) {
			d = &inf.defs[inf.ndefs++];
			d->kind = TG_DEF_INSTANCE;
			d->target = a->callee;
		} else {
			continue;
		}
		d->line = a->line;
		d->name = a->name;
		d->qualname = a->qualname;
	}
	/* last, so a name's other definition is the one found first */
	for (size_t i = 0; i < c->nfuncs; i++)
		add_commit_defs(&inf, &c->funcs[i]);
	/*
	 * A use through a renamed import (`from app.deps import SessionDep
	 * as Db`) is recorded by its own name too: the users of a changed
	 * definition are found by the definition's name.
	 */
	for (size_t i = 0, n = c->uses.nr; i < n; i++) {
		char *q = qualify(c, c->uses.v[i]);
		const char *ql = tg_node_last_part(q, strlen(q), NULL);
		const char *ul = tg_node_last_part(c->uses.v[i],
						   strlen(c->uses.v[i]), NULL);

		const char *dot = strchr(c->uses.v[i], '.');
		size_t at;

		if (strcmp(ql, ul))
			add_use(c, q);
		else
			free(q);
		/*
		 * `db.session` with db imported: a use of db too, for db may
		 * come to be an instance of another class.
		 */
		if (dot && tg_strmap_get(&c->imported, c->uses.v[i],
					 (size_t)(dot - c->uses.v[i]), &at))
			add_use(c, tg_xstrndup(c->uses.v[i],
					       (size_t)(dot - c->uses.v[i])));
	}
	inf.uses = (const char **)c->uses.v;
	inf.nuses = c->uses.nr;
	inf.locals = (const char **)c->locals.v;
	inf.nlocals = c->locals.nr;
	tg_inferred_encode(out, &inf, flags);
	free(inf.imports);
	free(inf.defs);
}

static void collect_release(struct collect *c)
{
	for (size_t i = 0; i < c->nfuncs; i++) {
		struct func *fn = &c->funcs[i];

		free(fn->name);
		free(fn->qualname);
		free(fn->cls_qual);
		free(fn->cls_name);
		free(fn->how);
		free(fn->guard);
		free(fn->wraps);
		sv_release(&fn->decos);
		tg_params_release(&fn->params);
		for (size_t k = 0; k < fn->npsites; k++) {
			free(fn->psites[k].target);
			free(fn->psites[k].arg);
			free(fn->psites[k].guard);
		}
		free(fn->psites);
		free(fn->param0);
		sv_release(&fn->rets);
		free(fn->inj_target);
		free(fn->inj_kw);
		for (size_t k = 0; k < fn->nyields; k++)
			free(fn->yields[k].name);
		for (size_t k = 0; k < fn->ncommits; k++) {
			free(fn->commits[k].name);
			free(fn->commits[k].guard);
		}
		free(fn->yields);
		free(fn->commits);
	}
	free(c->funcs);
	for (size_t i = 0; i < c->nassigns; i++) {
		free(c->assigns[i].name);
		free(c->assigns[i].qualname);
		free(c->assigns[i].callee);
		free(c->assigns[i].class_);
		free(c->assigns[i].arg);
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
	tg_strmap_release(&c->seen_uses);
	tg_strmap_release(&c->seen_locals);
	tg_strmap_release(&c->imported);
}

size_t tg_infer_max_ops(size_t len)
{
	return TG_INFER_OPS_BASE + TG_INFER_OPS_PER_BYTE * len;
}

void tg_infer_pyfile(struct tg_buf *out, const struct tg_pyfile *py)
{
	tg_infer_pyfile_bounded(out, py, tg_infer_max_ops(py->len));
}

void tg_infer_pyfile_bounded(struct tg_buf *out, const struct tg_pyfile *py,
			     size_t max_ops)
{
	struct collect c;
	TSTreeCursor cur;
	bool incomplete = false;

	memset(&c, 0, sizeof(c));
	c.py = py;
	c.max_ops = max_ops;
	cur = ts_tree_cursor_new(ts_tree_root_node(py->tree));
	/* iterative pre-order walk with leave events: any depth */
	for (;;) {
		TSNode n = ts_tree_cursor_current_node(&cur);

		if (++c.ops > c.max_ops) {
			/* what was read so far stands, marked as partial */
			incomplete = true;
			break;
		}
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
	serialize(out, &c, incomplete ? TG_INFER_INCOMPLETE : 0);
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

