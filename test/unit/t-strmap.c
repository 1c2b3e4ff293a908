/* The string map: insertion, lookup by slice, removal, growth. */
#include "txguard/common.h"
#include "txguard/hash.h"
#include "txguard/strmap.h"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

static void test_insert_get(void **state)
{
	struct tg_strmap m = TG_STRMAP_INIT;
	bool fresh;
	size_t v;

	(void)state;
	assert_false(tg_strmap_get(&m, "a", 1, &v));
	assert_null(tg_strmap_find(&m, "a", 1));
	*tg_strmap_insert(&m, "get_db", 6, &fresh) = 7;
	assert_true(fresh);
	*tg_strmap_insert(&m, "get_db", 6, &fresh) += 1;
	assert_false(fresh);
	assert_true(tg_strmap_get(&m, "get_db", 6, &v));
	assert_int_equal(v, 8);
	/* a key is looked up by a slice of a longer string */
	assert_true(tg_strmap_get(&m, "get_db.x", 6, &v));
	assert_false(tg_strmap_get(&m, "get_d", 5, &v));
	assert_false(tg_strmap_get(&m, "get_dbx", 7, &v));
	assert_int_equal(m.nr, 1);
	tg_strmap_release(&m);
	assert_int_equal(m.nr, 0);
	assert_false(tg_strmap_get(&m, "get_db", 6, &v));
}

/*
 * Removal moves back the entries a hole would hide from their probe:
 * after removing every other key of many, every remaining one is found
 * and no removed one is.
 */
static void test_delete_many(void **state)
{
	struct tg_strmap m = TG_STRMAP_INIT;
	const size_t n = 20000;
	char key[32];
	bool fresh;
	size_t v;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "k%zu", i);
		*tg_strmap_insert(&m, key, strlen(key), &fresh) = i;
		assert_true(fresh);
	}
	assert_int_equal(m.nr, n);
	for (size_t i = 0; i < n; i += 2) {
		snprintf(key, sizeof(key), "k%zu", i);
		assert_true(tg_strmap_del(&m, key, strlen(key)));
		assert_false(tg_strmap_del(&m, key, strlen(key)));
	}
	assert_int_equal(m.nr, n / 2);
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "k%zu", i);
		if (i % 2) {
			assert_true(tg_strmap_get(&m, key, strlen(key), &v));
			assert_int_equal(v, i);
		} else {
			assert_false(tg_strmap_get(&m, key, strlen(key), &v));
		}
	}
	tg_strmap_release(&m);
}

/* The hash fingerprints are made of: its values never change. */
static void test_hash_values(void **state)
{
	(void)state;
	assert_true(tg_hash("", 0) == TG_HASH_FNV_OFFSET);
	assert_true(tg_hash("a", 1) == 0xaf63dc4c8601ec8cULL);
	assert_true(tg_hash_fnv1a(tg_hash("a", 1), "b", 1) ==
		    tg_hash("ab", 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_get),
		cmocka_unit_test(test_delete_many),
		cmocka_unit_test(test_hash_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
