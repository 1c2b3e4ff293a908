/**
 * cmd.h: the commands and txguard's exit statuses (SPEC §2).
 */
#ifndef TXGUARD_CMD_H
#define TXGUARD_CMD_H

enum tg_exit {
	TG_EXIT_OK = 0,      /* nothing new at or above fail-on */
	TG_EXIT_BLOCKED = 1, /* new blocking findings */
	TG_EXIT_ERROR = 2,   /* usage, configuration, repository, internal */
};

int cmd_check(int argc, const char **argv);
int cmd_explain(int argc, const char **argv);

/** Print "txguard: <msg>" and the --no-verify hint; returns TG_EXIT_ERROR. */
int tg_die_with_hint(const char *msg);

#endif
