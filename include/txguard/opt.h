/**
 * opt.h: a table-driven option parser; `--help` is printed from the same
 * table, so the two never disagree.
 */
#ifndef TXGUARD_OPT_H
#define TXGUARD_OPT_H

#include "txguard/common.h"

enum tg_opt_type {
	TG_OPT_FLAG,   /* bool *value set to true */
	TG_OPT_STRING, /* const char **value set to the argument */
};

struct tg_option {
	const char *long_name; /* without "--" */
	char short_name;       /* 0 for none */
	enum tg_opt_type type;
	void *value;
	const char *argname; /* "FORMAT"; NULL for flags */
	const char *help;
};

/**
 * Parse argv[1..argc) (argv[0] is the command name). Options may come as
 * "--name value", "--name=value", "-x"; "--" ends them. Non-option
 * arguments are collected in *rest (borrowed from argv, freed by the
 * caller with free()). Errors: TG_EUSAGE with the message set.
 */
int tg_opt_parse(const char ***rest, int *nrest, int argc, const char **argv,
		 const struct tg_option *opts, size_t nopts);

/** Print "usage: ..." and the option table to fp. */
void tg_opt_usage(FILE *fp, const char *usage, const char *description,
		  const struct tg_option *opts, size_t nopts);

#endif
