/*
 * Start-up cost, which a hook pays on every commit: Debian's libgit2 is built against mbedTLS, and
 * git_libgit2_init() parses every certificate in the system CA bundle
 * (~7 ms, half the budget of a whole check) so that HTTPS remotes work.
 * txguard never opens a network connection, so it supplies this symbol
 * itself: the dynamic linker resolves libgit2's call to the executable's
 * definition first, and the bundle is never read.  With a libgit2 built on
 * another TLS library the function is simply never called.
 */
#include "txguard/common.h"

struct mbedtls_x509_crt;

int mbedtls_x509_crt_parse_file(struct mbedtls_x509_crt *chain,
				const char *path);

int mbedtls_x509_crt_parse_file(struct mbedtls_x509_crt *chain,
				const char *path)
{
	(void)chain;
	(void)path;
	return 0;
}
