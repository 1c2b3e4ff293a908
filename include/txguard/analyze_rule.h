/**
 * analyze_rule.h: the interface between the analysis walk (analyze.c)
 * and the rules (rule_tx00N.c). Only those files include it: it pulls in
 * tree-sitter.
 *
 * analyze.c walks the tree once, iteratively, with enter/leave events. It
 * keeps the owner-scope stack: one entry per name owned by an enclosing
 * `with` / `async with` whose manager owns the transaction, and
 * a barrier for every nested def, lambda and class (code there is not
 * inside the block). Rebinding a name ends its entry's ownership from
 * the binding on. Rules see every node through their enter/leave hooks,
 * ask the stack who owns a name, and emit findings.
 */
#ifndef TXGUARD_ANALYZE_RULE_H
#define TXGUARD_ANALYZE_RULE_H

#include "txguard/common.h"

#include "txguard/pyparse.h"

#include <tree_sitter/api.h>

struct tg_pyfile;
struct tg_units;
struct tg_findings;
struct tg_finding;
struct tg_analyze_opts;
struct tg_owner;
struct tg_classify_memo;

enum tg_owned_kind {
	TG_OWNED_BEGIN,        /* X.begin() */
	TG_OWNED_BEGIN_NESTED, /* X.begin_nested(): a savepoint */
	TG_OWNED_REGISTERED,   /* a configured or inferred owner */
	TG_OWNED_REQUEST,      /* a parameter from an owning Depends(P) */
	/*
	 * Not owners (TX001 ignores them), but scopes a session lives in:
	 * `with factory() as s` and a request-scoped session whose
	 * dependency only closes (TX004), and `s = factory()` (TX003 knows
	 * the loop iteration opened it). Being the nearest entry for a name
	 * they also hide an outer owner's entry of the same spelling.
	 */
	TG_OWNED_CLOSING,
	TG_OWNED_CREATED,
};

/** Owning kinds: TX001 applies to their names. */
#define TG_OWNED_OWNS(kind) ((kind) <= TG_OWNED_REQUEST)

/**
 * One owned name on the scope stack, a barrier or a loop. All strings
 * owned.
 */
struct tg_owned {
	char *name;          /* normalised: "session", "self.session"; NULL for barriers and loops */
	char *header;        /* for messages: "async with get_db() as session" */
	char *owner_text;    /* normalised owner call: "session.begin()" */
	char *owner_desc;    /* the owning construct and where it is defined */
	enum tg_owned_kind kind;
	const struct tg_owner *owner; /* registry entry, or NULL for built-ins */
	bool is_async;       /* `async with`, `async def` for request scope */
	bool request;        /* a request-scoped parameter (Depends) */
	bool barrier;        /* nested def/lambda/class: hides what is below */
	bool loop;           /* a for/while body (TX003) */
	/*
	 * Loops: whether the body sleeps (a polling loop, not one for
	 * TX003), found on first need: -1 not yet known, else 0 or 1.
	 */
	signed char sleeps;
	TSNode body;         /* loops: the body, for that question */
	bool shadow;         /* a comprehension variable hides `name` in it */
	uint32_t body_start; /* the block body's first byte */
	uint32_t body_end;   /* loops: the body's end (an else clause is not in it) */
	uint32_t dead_from;  /* a rebinding at this byte ends ownership */
	const void *node_id; /* the node that pushed it (TSNode.id) */
	const void *bind_id; /* TG_OWNED_CREATED: the assignment (TSNode.id) */
	uint32_t line;       /* line of the owner call */
};

/**
 * The statement skeleton of a tree without errors, recorded by the unit
 * walk (units.c) so that the analysis does not walk the tree a second
 * time to find statements: every node that can hold statements
 * (TG_PK_HOLDS), and every expression statement that holds an
 * assignment followed by its assignments, in pre-order. `end` is the
 * index just past the node's descendants in `v`.
 */
struct tg_skel_node {
	TSNode node;
	uint32_t end;
};

struct tg_skeleton {
	const TSTree *tree; /* the tree the nodes belong to */
	struct tg_skel_node *v;
	size_t nr, alloc;
};

/** The state of one analysis walk, shared with the rules. */
struct tg_actx {
	const struct tg_pyfile *py;
	const struct tg_units *units;
	const struct tg_analyze_opts *opts;
	struct tg_findings *out;
	size_t unit;         /* index of the unit the current node is in */
	struct tg_owned *stack;
	size_t nstack, alloc_stack;
	struct tg_classify_memo *memo; /* tg_callee_classify()'s answers */
};

/**
 * A rule's hooks; `kind` is the node's enum tg_pykind (pyparse.h),
 * flags dropped. Either may be NULL. The
 * walk skips simple statements while no owner block is open unless a rule
 * sets simple_outside (TX002 will: it looks at every assignment). The
 * hooks see only nodes of the kinds in `kinds` (TG_RULE_KIND(TG_PK_CALL)
 * | ...; enum tg_pykind, pyparse.h): most nodes concern no rule.
 */
struct tg_rule_ops {
	const char *id;
	void (*enter)(struct tg_actx *cx, TSNode node, unsigned kind);
	void (*leave)(struct tg_actx *cx, TSNode node, unsigned kind);
	bool simple_outside;
	unsigned long long kinds;
};

#define TG_RULE_KIND(pk) (1ULL << (pk))
_Static_assert(TG_PK_COUNT <= 64, "a rule's kinds fit in 64 bits");

extern const struct tg_rule_ops tg_rule_tx001_ops;
extern const struct tg_rule_ops tg_rule_tx002_ops;
extern const struct tg_rule_ops tg_rule_tx003_ops;
extern const struct tg_rule_ops tg_rule_tx004_ops;

/**
 * Push an entry for `node` (popped when the walk leaves it), zeroed but
 * for node_id; the caller fills it in.
 */
struct tg_owned *tg_analyze_push(struct tg_actx *cx, TSNode node);

/**
 * The innermost loop entry above the innermost barrier whose body holds
 * byte `at`, or NULL. Loops where one transaction per iteration is the
 * design are not on the stack: `while True` / `while 1` service loops,
 * `async for` streams, polling loops that sleep, retry loops.
 */
const struct tg_owned *tg_analyze_loop(const struct tg_actx *cx, uint32_t at);

/**
 * Whether tg_analyze_loop() can find anything at `at`: a loop is visible
 * there, sleeping or not. Cheap; ask it before costlier questions.
 */
bool tg_analyze_in_loop(const struct tg_actx *cx, uint32_t at);

/**
 * The nearest live entry of any kind for `name` at `at` (owning or not);
 * tg_analyze_owned() is this restricted to owning kinds.
 */
const struct tg_owned *tg_analyze_scope_of(const struct tg_actx *cx,
					   const char *name, uint32_t at);

/**
 * The live owner entry for `name` (normalised) at byte `at`: the nearest
 * entry above the innermost barrier whose body contains `at` and that no
 * rebinding before `at` ended, if it owns (TG_OWNED_OWNS). NULL if none.
 */
const struct tg_owned *tg_analyze_owned(const struct tg_actx *cx,
					const char *name, uint32_t at);

/**
 * Start a finding of rule `id` at `node` in the current unit: rule,
 * severity, path, unit, positions and call_text (the node's normalised
 * text) are filled; the rule adds message, help, owner and owner_text.
 * NULL when the current unit is not being analysed or the rule is off.
 */
struct tg_finding *tg_analyze_emit(struct tg_actx *cx, const char *id,
				   TSNode node);

/** Whether findings of rule `id` in the current unit would be kept. */
bool tg_analyze_wants(const struct tg_actx *cx, const char *id);

/** The node's text normalised (tg_fingerprint_normalize); caller frees. */
char *tg_analyze_norm(const struct tg_actx *cx, TSNode node);
/** The node's text with whitespace runs folded to one space; caller frees. */
char *tg_analyze_display(const struct tg_actx *cx, TSNode node);

/*
 * One preorder step of a walk bounded by the cursor's root: into the
 * first child when `descend`, else to the next sibling, climbing as
 * needed. False when the walk has left the subtree it started in.
 */
static inline bool tg_cursor_next(TSTreeCursor *c, bool descend)
{
	if (descend && ts_tree_cursor_goto_first_child(c))
		return true;
	while (!ts_tree_cursor_goto_next_sibling(c))
		if (!ts_tree_cursor_goto_parent(c))
			return false;
	return true;
}

#endif
