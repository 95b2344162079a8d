/* test-strmap: the string hash map under growth and collisions. */
#include "autoconfig.h"

#include <stdio.h>

#include "strmap.h"
#include "test.h"

int main(void)
{
        struct strmap *m = NULL;
        const char *key = NULL, *first_key = NULL;
        size_t *value = NULL, v = 0;
        char buf[32];

        CHECK_INT_EQ(strmap_new(&m), 0);
        CHECK_INT_EQ(strmap_size(m), 0);
        CHECK(!strmap_get(m, "absent", &v));

        CHECK_INT_EQ(strmap_add(m, "hello", 7, &first_key, &value), 1);
        CHECK_STR_EQ(first_key, "hello");
        CHECK_INT_EQ(*value, 7);

        /* present: the old value stays, the same stored key comes back */
        CHECK_INT_EQ(strmap_add(m, "hello", 9, &key, &value), 0);
        CHECK(key == first_key);
        CHECK_INT_EQ(*value, 7);
        *value = 8;
        CHECK(strmap_get(m, "hello", &v));
        CHECK_INT_EQ(v, 8);

        /* 10,000 keys: many doublings; every key keeps its value and the
         * first stored key does not move */
        for (size_t i = 0; i < 10000; i++) {
                snprintf(buf, sizeof(buf), "key-%zu", i);
                CHECK_INT_EQ(strmap_add(m, buf, i, NULL, NULL), 1);
        }
        CHECK_INT_EQ(strmap_size(m), 10001);

        size_t wrong = 0;
        for (size_t i = 0; i < 10000; i++) {
                snprintf(buf, sizeof(buf), "key-%zu", i);
                if (!strmap_get(m, buf, &v) || v != i)
                        wrong++;
        }
        CHECK_INT_EQ(wrong, 0);
        CHECK(!strmap_get(m, "key-10000", NULL));
        CHECK(strmap_get(m, "", NULL) == false);
        CHECK_INT_EQ(strmap_add(m, "", 5, NULL, NULL), 1);
        CHECK(strmap_get(m, "", &v));
        CHECK_INT_EQ(v, 5);

        CHECK_INT_EQ(strmap_add(m, "hello", 0, &key, NULL), 0);
        CHECK(key == first_key);

        strmap_free(m);
        strmap_free(NULL);
        return test_finish();
}
