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

/** What a command's --help prints around its option table. */
struct tg_opt_command {
	const char *usage;       /* "txguard scan [OPTIONS] [PATH...]" */
	const char *description; /* a paragraph, or NULL */
	int max_args;            /* non-option arguments allowed; -1: any */
};

/** tg_opt_parse() printed the help: the command should exit 0. */
#define TG_OPT_HELP 1

/**
 * Parse argv[1..argc) (argv[0] is the command name). Options may come as
 * "--name value", "--name=value", "-x"; "--" ends them. Non-option
 * arguments are collected in *rest (borrowed from argv, freed by the
 * caller with free(); NULL unless the parse returned 0).
 *
 * `-h` and `--help` are every command's: they print "usage: ...", the
 * description and the option table to standard output and return
 * TG_OPT_HELP. More than cmd->max_args arguments is an error.
 * Errors: TG_EUSAGE with the message set.
 */
int tg_opt_parse(const char ***rest, int *nrest, int argc, const char **argv,
		 const struct tg_option *opts, size_t nopts,
		 const struct tg_opt_command *cmd);

#endif
