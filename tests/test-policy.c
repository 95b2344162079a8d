/* test-policy: keyword rules, quiet hours, group replies, and the errors
 * of a bad rules file. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "policy.h"
#include "test.h"

static char dir[] = "/tmp/parley-test-policy.XXXXXX";

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");

        if (!f || fputs(text, f) < 0 || fclose(f) != 0)
                TEST_FAIL("cannot write %s", path);
}

/* A policy from [policy] settings (rules_file, if any, in dir). */
static int make_policy(const char *settings, struct policy **ret, char *error)
{
        const struct config_key *tables[CORE_CONFIG_TABLES_MAX];
        size_t n = core_config_tables(tables, CORE_CONFIG_TABLES_MAX);
        char path[128], text[1024];
        struct config *config;
        int r;

        snprintf(path, sizeof(path), "%s/parleyd.conf", dir);
        snprintf(text, sizeof(text), "[policy]\n%s", settings);
        write_file(path, text);

        r = config_load(path, tables, n, stderr, &config);
        CHECK_INT_EQ(r, 0);
        if (r < 0)
                return r;

        r = policy_new(config, ret, error);
        config_free(config);
        return r;
}

static void test_rules(void)
{
        char path[128], error[POLICY_ERROR_MAX] = "";
        struct policy *p = NULL;

        snprintf(path, sizeof(path), "%s/rules.jsonl", dir);
        write_file(path,
                   "# opening hours for everyone\n"
                   "{\"match\": \"Opening Hours\", \"reply\": \"We are open 9 to 18.\"}\n"
                   "\n"
                   "{\"match\": \"^(price|cost)s?\\\\b\", \"regex\": true, "
                   "\"reply\": \"See the price list.\", \"chats\": [\"telegram:*\"]}\n"
                   "{\"match\": \"退款\", \"reply\": \"退款将在5个工作日内到账。\", "
                   "\"chats\": [\"console:console\", \"slack:C1\"]}\n");

        CHECK_INT_EQ(make_policy("rules_file = rules.jsonl\n", &p, error), 0);
        if (!p) {
                TEST_FAIL("%s", error);
                return;
        }

        CHECK_STR_EQ(policy_rule_reply(p, "console", "console", "what are your OPENING hours?"),
                     "We are open 9 to 18.");
        CHECK(policy_rule_reply(p, "console", "console", "are you open?") == NULL);
        CHECK_STR_EQ(policy_rule_reply(p, "telegram", "-100", "Prices please"),
                     "See the price list.");
        CHECK(policy_rule_reply(p, "console", "console", "Prices please") == NULL);
        CHECK(policy_rule_reply(p, "telegram", "-100", "what prices") == NULL);
        CHECK_STR_EQ(policy_rule_reply(p, "slack", "C1", "我想退款"), "退款将在5个工作日内到账。");
        CHECK(policy_rule_reply(p, "slack", "C2", "我想退款") == NULL);
        policy_free(p);
}

static void test_rules_errors(void)
{
        char path[128], error[POLICY_ERROR_MAX] = "", expected[1024];
        struct policy *p = NULL;

        snprintf(path, sizeof(path), "%s/bad.jsonl", dir);
        write_file(path,
                   "{\"match\": \"ok\", \"reply\": \"fine\"}\n"
                   "not json\n"
                   "{\"match\": \"x\"}\n"
                   "{\"match\": \"(\", \"regex\": true, \"reply\": \"r\"}\n"
                   "{\"match\": \"y\", \"reply\": \"r\", \"chats\": [\"nocolon\"]}\n"
                   "{\"match\": \"z\", \"reply\": \"r\", \"colour\": \"blue\"}\n");

        CHECK_INT_EQ(make_policy("rules_file = bad.jsonl\n", &p, error), -EINVAL);
        CHECK(p == NULL);
        snprintf(expected, sizeof(expected),
                 "%s:2: the rule is not a JSON object\n"
                 "%s:3: the rule needs \"reply\", a non-empty string\n"
                 "%s:4: the rule has a \"match\" that is not a valid extended regular "
                 "expression\n"
                 "%s:5: the rule \"chats\" must be a list of \"adapter:chat\" strings\n"
                 "%s:6: the rule has a field other than \"match\", \"reply\", \"regex\" "
                 "and \"chats\"",
                 path, path, path, path, path);
        CHECK_STR_EQ(error, expected);

        CHECK_INT_EQ(make_policy("rules_file = missing.jsonl\n", &p, error), -ENOENT);
        snprintf(expected, sizeof(expected), "cannot read the rule file %s/missing.jsonl: "
                 "No such file or directory", dir);
        CHECK_STR_EQ(error, expected);
}

static void test_quiet_and_groups(void)
{
        char error[POLICY_ERROR_MAX] = "", expected[512];
        struct policy *p = NULL;

        CHECK_INT_EQ(make_policy("quiet_hours = 22:30-07:00\nreplies_per_minute = 5\n", &p,
                                 error), 0);
        if (!p)
                return;
        CHECK(policy_quiet(p, "console", "console", 22 * 60 + 30));
        CHECK(policy_quiet(p, "console", "console", 3 * 60));
        CHECK(!policy_quiet(p, "console", "console", 7 * 60));
        CHECK(!policy_quiet(p, "console", "console", 12 * 60));
        CHECK(!policy_quiet(p, "console", "console", 22 * 60 + 29));
        CHECK_INT_EQ(policy_replies_per_minute(p, "console", "console"), 5);
        CHECK(policy_addresses(p, "console", "console", true, false));
        CHECK(policy_addresses(p, "console", "console", false, true));
        CHECK(!policy_addresses(p, "console", "console", false, false));
        policy_free(p);

        CHECK_INT_EQ(make_policy("quiet_hours = 09:00-17:00\ngroup_replies = all\n", &p, error),
                     0);
        if (!p)
                return;
        CHECK(policy_quiet(p, "console", "console", 9 * 60));
        CHECK(!policy_quiet(p, "console", "console", 17 * 60));
        CHECK(policy_addresses(p, "console", "console", false, false));
        policy_free(p);

        CHECK_INT_EQ(make_policy("quiet_hours = 25:00-07:00\n", &p, error), -EINVAL);
        snprintf(expected, sizeof(expected), "%s/parleyd.conf:2: quiet_hours in [policy] "
                 "expects HH:MM-HH:MM, got '25:00-07:00'", dir);
        CHECK_STR_EQ(error, expected);
}

/* The chats file overrides [policy] for an adapter, then for a chat. */
static void test_chat_overrides(void)
{
        char path[128], error[POLICY_ERROR_MAX] = "", expected[1024];
        struct policy *p = NULL;

        snprintf(path, sizeof(path), "%s/chats.jsonl", dir);
        write_file(path,
                   "{\"chat\": \"telegram:*\", \"group_replies\": \"all\", "
                   "\"replies_per_minute\": 2}\n"
                   "{\"chat\": \"telegram:-100\", \"quiet_hours\": \"\", "
                   "\"group_replies\": \"mentioned\"}\n"
                   "{\"chat\": \"slack:C1\", \"quiet_hours\": \"12:00-13:00\"}\n");

        CHECK_INT_EQ(make_policy("quiet_hours = 22:00-07:00\nreplies_per_minute = 5\n"
                                 "chats_file = chats.jsonl\n", &p, error), 0);
        if (!p) {
                TEST_FAIL("%s", error);
                return;
        }

        /* Global. */
        CHECK(!policy_addresses(p, "slack", "C2", false, false));
        CHECK(policy_quiet(p, "slack", "C2", 23 * 60));
        CHECK_INT_EQ(policy_replies_per_minute(p, "slack", "C2"), 5);
        /* The adapter's. */
        CHECK(policy_addresses(p, "telegram", "-200", false, false));
        CHECK_INT_EQ(policy_replies_per_minute(p, "telegram", "-200"), 2);
        CHECK(policy_quiet(p, "telegram", "-200", 23 * 60));
        /* The chat's, over the adapter's. */
        CHECK(!policy_addresses(p, "telegram", "-100", false, false));
        CHECK(!policy_quiet(p, "telegram", "-100", 23 * 60));
        CHECK_INT_EQ(policy_replies_per_minute(p, "telegram", "-100"), 2);
        CHECK(policy_quiet(p, "slack", "C1", 12 * 60 + 30));
        CHECK(!policy_quiet(p, "slack", "C1", 23 * 60));
        policy_free(p);

        write_file(path,
                   "{\"chat\": \"nocolon\"}\n"
                   "{\"chat\": \"slack:C1\", \"quiet_hours\": \"noon\"}\n"
                   "{\"chat\": \"slack:C1\", \"volume\": 3}\n");
        CHECK_INT_EQ(make_policy("chats_file = chats.jsonl\n", &p, error), -EINVAL);
        snprintf(expected, sizeof(expected),
                 "%s:1: the chat setting needs \"chat\", an \"adapter:chat\" or \"adapter:*\" "
                 "string\n"
                 "%s:2: the chat setting has \"quiet_hours\" that is not HH:MM-HH:MM\n"
                 "%s:3: the chat setting has a field other than \"chat\", \"group_replies\", "
                 "\"quiet_hours\" and \"replies_per_minute\"", path, path, path);
        CHECK_STR_EQ(error, expected);
}

int main(void)
{
        char cmd[128];

        if (!mkdtemp(dir))
                TEST_SKIP("cannot make a temporary directory");

        test_rules();
        test_rules_errors();
        test_quiet_and_groups();
        test_chat_overrides();

        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
        return test_finish();
}
