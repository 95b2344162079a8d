/* policy.c: group replies, keyword rules, quiet hours, reply limits. */
#include "autoconfig.h"

#include <errno.h>
#include <json-c/json.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "policy.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

const struct config_key policy_config_keys[] = {
        { "policy", "group_replies", CONFIG_ENUM, "mentioned", false, 0, 0, "mentioned|all",
          "in group chats, answer only messages that mention or reply to the bot, or all" },
        { "policy", "quiet_hours", CONFIG_STRING, NULL, false, 0, 0, NULL,
          "HH:MM-HH:MM in [reminders] time_zone: no rule or model replies in group chats" },
        { "policy", "replies_per_minute", CONFIG_INT, "0", false, 0, 10000, NULL,
          "most rule and model replies per chat per minute (0: no limit)" },
        { "policy", "rules_file", CONFIG_PATH, NULL, false, 0, 0, NULL,
          "keyword auto-reply rules, JSON lines, answered before the model" },
        { "policy", "chats_file", CONFIG_PATH, NULL, false, 0, 0, NULL,
          "per-adapter and per-chat policy overrides, JSON lines" },
        { NULL },
};

struct policy_rule {
        char *match;            /* lower-case text, or a regular expression */
        bool is_regex;
        regex_t regex;
        char *reply;
        char **chats;           /* "adapter:chat", "adapter:*"; none: every chat */
        size_t n_chats;
};

/* What applies in a chat.  In an override, a field not set is -2 (and
 * inherits); quiet_start -1 means no quiet hours. */
struct policy_settings {
        int group_replies_all;
        int quiet_start, quiet_end;     /* minutes since midnight */
        int replies_per_minute;
};

struct policy_override {
        char *chat;                     /* "adapter:chat" or "adapter:*" */
        struct policy_settings settings;
};

struct policy {
        struct policy_settings global;
        struct policy_override *overrides;
        size_t n_overrides;
        struct policy_rule *rules;
        size_t n_rules;
};

static void policy_rule_clear(struct policy_rule *r)
{
        free(r->match);
        if (r->is_regex)
                regfree(&r->regex);
        free(r->reply);
        for (size_t i = 0; i < r->n_chats; i++)
                free(r->chats[i]);
        free(r->chats);
}

void policy_free(struct policy *p)
{
        if (!p)
                return;
        for (size_t i = 0; i < p->n_rules; i++)
                policy_rule_clear(&p->rules[i]);
        free(p->rules);
        for (size_t i = 0; i < p->n_overrides; i++)
                free(p->overrides[i].chat);
        free(p->overrides);
        free(p);
}

/* "HH:MM-HH:MM"; the end may be before the start (over midnight). */
static int parse_quiet_hours(const char *s, int *ret_start, int *ret_end)
{
        unsigned h1, m1, h2, m2;
        char tail;

        if (sscanf(s, "%u:%u-%u:%u%c", &h1, &m1, &h2, &m2, &tail) != 4 || h1 > 23 || h2 > 23 ||
            m1 > 59 || m2 > 59)
                return -EINVAL;

        *ret_start = (int)(h1 * 60 + m1);
        *ret_end = (int)(h2 * 60 + m2);
        return 0;
}

static char *ascii_lower(const char *s)
{
        char *l = strdup(s);

        for (char *p = l; p && *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        *p = (char)(*p - 'A' + 'a');
        return l;
}

/* One line of the rules file: {"match": ..., "reply": ..., "regex": bool,
 * "chats": [...]}.  Returns a sentence fragment on error. */
static const char *policy_rule_parse(const char *line, struct policy_rule *ret)
{
        _cleanup_(json_object_putp) json_object *o = json_tokener_parse(line);
        json_object *match, *reply, *regex, *chats;
        struct policy_rule r = { 0 };

        if (!o || !json_object_is_type(o, json_type_object))
                return "is not a JSON object";
        json_object_object_foreach(o, key, value) {
                (void)value;
                if (strcmp(key, "match") != 0 && strcmp(key, "reply") != 0 &&
                    strcmp(key, "regex") != 0 && strcmp(key, "chats") != 0)
                        return "has a field other than \"match\", \"reply\", \"regex\" "
                               "and \"chats\"";
        }
        if (!json_object_object_get_ex(o, "match", &match) ||
            !json_object_is_type(match, json_type_string) || !json_object_get_string_len(match))
                return "needs \"match\", a non-empty string";
        if (!json_object_object_get_ex(o, "reply", &reply) ||
            !json_object_is_type(reply, json_type_string) || !json_object_get_string_len(reply))
                return "needs \"reply\", a non-empty string";
        if (json_object_object_get_ex(o, "regex", &regex)) {
                if (!json_object_is_type(regex, json_type_boolean))
                        return "\"regex\" must be true or false";
                r.is_regex = json_object_get_boolean(regex);
        }

        r.match = r.is_regex ? strdup(json_object_get_string(match)) :
                               ascii_lower(json_object_get_string(match));
        r.reply = strdup(json_object_get_string(reply));
        if (!r.match || !r.reply) {
                free(r.match);
                free(r.reply);
                return "needs more memory than there is";
        }

        if (r.is_regex && regcomp(&r.regex, r.match, REG_EXTENDED | REG_ICASE | REG_NOSUB)) {
                r.is_regex = false;
                policy_rule_clear(&r);
                return "has a \"match\" that is not a valid extended regular expression";
        }

        if (json_object_object_get_ex(o, "chats", &chats)) {
                size_t n = json_object_is_type(chats, json_type_array) ?
                                   json_object_array_length(chats) : 0;

                if (!json_object_is_type(chats, json_type_array) || n == 0 ||
                    n > POLICY_RULE_CHATS_MAX) {
                        policy_rule_clear(&r);
                        return "\"chats\" must be a list of 1 to 64 \"adapter:chat\" strings";
                }
                r.chats = calloc(n, sizeof(*r.chats));
                if (!r.chats) {
                        policy_rule_clear(&r);
                        return "needs more memory than there is";
                }
                for (size_t i = 0; i < n; i++) {
                        json_object *c = json_object_array_get_idx(chats, i);

                        if (!json_object_is_type(c, json_type_string) ||
                            !strchr(json_object_get_string(c), ':')) {
                                policy_rule_clear(&r);
                                return "\"chats\" must be a list of \"adapter:chat\" strings";
                        }
                        r.chats[r.n_chats] = strdup(json_object_get_string(c));
                        if (!r.chats[r.n_chats]) {
                                policy_rule_clear(&r);
                                return "needs more memory than there is";
                        }
                        r.n_chats++;
                }
        }

        *ret = r;
        return NULL;
}

/* One line of the chats file: {"chat": "adapter:chat" or "adapter:*", and
 * any of "group_replies", "quiet_hours", "replies_per_minute"}. */
static const char *policy_override_parse(const char *line, struct policy_override *ret)
{
        _cleanup_(json_object_putp) json_object *o = json_tokener_parse(line);
        struct policy_override v = {
                .settings = { .group_replies_all = -2, .quiet_start = -2, .quiet_end = -2,
                              .replies_per_minute = -2 },
        };
        json_object *chat = NULL;

        if (!o || !json_object_is_type(o, json_type_object))
                return "is not a JSON object";

        json_object_object_foreach(o, key, value) {
                if (strcmp(key, "chat") == 0) {
                        chat = value;
                } else if (strcmp(key, "group_replies") == 0) {
                        const char *g = json_object_get_string(value);

                        if (!json_object_is_type(value, json_type_string) ||
                            (strcmp(g, "all") != 0 && strcmp(g, "mentioned") != 0))
                                return "has \"group_replies\" other than \"all\" or "
                                       "\"mentioned\"";
                        v.settings.group_replies_all = strcmp(g, "all") == 0;
                } else if (strcmp(key, "quiet_hours") == 0) {
                        const char *q = json_object_get_string(value);

                        if (!json_object_is_type(value, json_type_string))
                                return "has \"quiet_hours\" that is not a string";
                        if (!*q)
                                v.settings.quiet_start = v.settings.quiet_end = -1;
                        else if (parse_quiet_hours(q, &v.settings.quiet_start,
                                                   &v.settings.quiet_end) < 0)
                                return "has \"quiet_hours\" that is not HH:MM-HH:MM";
                } else if (strcmp(key, "replies_per_minute") == 0) {
                        int64_t n = json_object_get_int64(value);

                        if (!json_object_is_type(value, json_type_int) || n < 0 || n > 10000)
                                return "has \"replies_per_minute\" that is not 0 to 10000";
                        v.settings.replies_per_minute = (int)n;
                } else
                        return "has a field other than \"chat\", \"group_replies\", "
                               "\"quiet_hours\" and \"replies_per_minute\"";
        }

        if (!chat || !json_object_is_type(chat, json_type_string) ||
            !strchr(json_object_get_string(chat), ':'))
                return "needs \"chat\", an \"adapter:chat\" or \"adapter:*\" string";

        v.chat = strdup(json_object_get_string(chat));
        if (!v.chat)
                return "needs more memory than there is";
        *ret = v;
        return NULL;
}

/* Adds a parsed line to p; a sentence fragment on error. */
typedef const char *(*policy_line_fn)(struct policy *p, const char *line);

static const char *policy_rule_line(struct policy *p, const char *line)
{
        struct policy_rule rule, *grown;
        const char *why;

        if (p->n_rules >= POLICY_RULES_MAX)
                return "is one more than the 1000 allowed";
        why = policy_rule_parse(line, &rule);
        if (why)
                return why;

        grown = realloc(p->rules, (p->n_rules + 1) * sizeof(*grown));
        if (!grown) {
                policy_rule_clear(&rule);
                return "needs more memory than there is";
        }
        p->rules = grown;
        p->rules[p->n_rules++] = rule;
        return NULL;
}

static const char *policy_override_line(struct policy *p, const char *line)
{
        struct policy_override o, *grown;
        const char *why;

        if (p->n_overrides >= POLICY_RULES_MAX)
                return "is one more than the 1000 allowed";
        why = policy_override_parse(line, &o);
        if (why)
                return why;

        grown = realloc(p->overrides, (p->n_overrides + 1) * sizeof(*grown));
        if (!grown) {
                free(o.chat);
                return "needs more memory than there is";
        }
        p->overrides = grown;
        p->overrides[p->n_overrides++] = o;
        return NULL;
}

/* Reads a JSON-lines file; every bad line is reported, "FILE:LINE: the
 * WHAT ...", one per line of error. */
static int policy_lines_load(struct policy *p, const char *path, const char *what,
                             policy_line_fn add, char *error)
{
        _cleanup_free_ char *line = NULL;
        size_t size = 0, line_no = 0, used = strlen(error);
        FILE *f = fopen(path, "re");
        ssize_t n;
        int r = 0;

        if (!f) {
                r = -errno;
                snprintf(error + used, POLICY_ERROR_MAX - used, "%scannot read the %s file %s: %s",
                         used ? "\n" : "", what, path, strerror(-r));
                return r;
        }

        while ((n = getline(&line, &size, f)) >= 0) {
                const char *why;

                line_no++;
                if (line[strspn(line, " \t\r\n")] == '\0' || line[0] == '#')
                        continue;

                why = n > POLICY_RULE_LINE_MAX ? "is longer than 8192 bytes" : add(p, line);
                if (!why)
                        continue;

                used += (size_t)snprintf(error + used, POLICY_ERROR_MAX - used,
                                         "%s%s:%zu: the %s %s", used ? "\n" : "", path, line_no,
                                         what, why);
                if (used >= POLICY_ERROR_MAX)
                        used = POLICY_ERROR_MAX - 1;
                r = -EINVAL;
        }

        fclose(f);
        return r;
}

int policy_new(const struct config *config, struct policy **ret, char *error)
{
        const char *quiet = config_get_string(config, "policy", "quiet_hours");
        const char *rules = config_get_string(config, "policy", "rules_file");
        const char *chats = config_get_string(config, "policy", "chats_file");
        struct policy *p = calloc(1, sizeof(*p));
        int r;

        if (!p)
                return -ENOMEM;

        error[0] = '\0';
        p->global.group_replies_all = strcmp(config_get_string(config, "policy",
                                                               "group_replies"), "all") == 0;
        p->global.replies_per_minute = (int)config_get_int(config, "policy",
                                                           "replies_per_minute");
        p->global.quiet_start = p->global.quiet_end = -1;
        if (quiet && *quiet &&
            parse_quiet_hours(quiet, &p->global.quiet_start, &p->global.quiet_end) < 0) {
                snprintf(error, POLICY_ERROR_MAX, "%s: quiet_hours in [policy] expects "
                         "HH:MM-HH:MM, got '%s'", config_where(config, "policy", "quiet_hours"),
                         quiet);
                policy_free(p);
                return -EINVAL;
        }

        r = rules ? policy_lines_load(p, rules, "rule", policy_rule_line, error) : 0;
        if (chats) {
                int k = policy_lines_load(p, chats, "chat setting", policy_override_line, error);

                if (r == 0)
                        r = k;
        }
        if (r < 0) {
                policy_free(p);
                return r;
        }

        *ret = p;
        return 0;
}

/* Whether an override names this chat: exactly (2) or all of its
 * adapter's chats (1); 0 if not. */
static int policy_override_matches(const struct policy_override *o, const char *adapter,
                                   const char *chat_id)
{
        size_t n = strlen(adapter);

        if (strncmp(o->chat, adapter, n) != 0 || o->chat[n] != ':')
                return 0;
        if (strcmp(o->chat + n + 1, chat_id) == 0)
                return 2;
        return strcmp(o->chat + n + 1, "*") == 0 ? 1 : 0;
}

static void policy_settings_merge(struct policy_settings *s, const struct policy_settings *o)
{
        if (o->group_replies_all != -2)
                s->group_replies_all = o->group_replies_all;
        if (o->quiet_start != -2) {
                s->quiet_start = o->quiet_start;
                s->quiet_end = o->quiet_end;
        }
        if (o->replies_per_minute != -2)
                s->replies_per_minute = o->replies_per_minute;
}

/* The global settings, then the adapter's, then the chat's. */
static struct policy_settings policy_settings_for(const struct policy *p, const char *adapter,
                                                  const char *chat_id)
{
        struct policy_settings s = p->global;

        for (int level = 1; level <= 2; level++)
                for (size_t i = 0; i < p->n_overrides; i++)
                        if (policy_override_matches(&p->overrides[i], adapter, chat_id) == level)
                                policy_settings_merge(&s, &p->overrides[i].settings);
        return s;
}

bool policy_addresses(const struct policy *p, const char *adapter, const char *chat_id,
                      bool direct, bool addressed)
{
        return direct || addressed || policy_settings_for(p, adapter, chat_id).group_replies_all;
}

bool policy_quiet(const struct policy *p, const char *adapter, const char *chat_id,
                  int minutes)
{
        struct policy_settings s = policy_settings_for(p, adapter, chat_id);

        if (s.quiet_start < 0 || s.quiet_start == s.quiet_end)
                return false;
        if (s.quiet_start < s.quiet_end)
                return minutes >= s.quiet_start && minutes < s.quiet_end;
        return minutes >= s.quiet_start || minutes < s.quiet_end;
}

int policy_replies_per_minute(const struct policy *p, const char *adapter, const char *chat_id)
{
        return policy_settings_for(p, adapter, chat_id).replies_per_minute;
}

static bool policy_rule_applies(const struct policy_rule *r, const char *adapter,
                                const char *chat_id)
{
        size_t adapter_len = strlen(adapter);

        if (r->n_chats == 0)
                return true;

        for (size_t i = 0; i < r->n_chats; i++) {
                const char *c = r->chats[i];

                if (strcmp(c, "*:*") == 0)
                        return true;
                if (strncmp(c, adapter, adapter_len) != 0 || c[adapter_len] != ':')
                        continue;
                if (strcmp(c + adapter_len + 1, "*") == 0 ||
                    strcmp(c + adapter_len + 1, chat_id) == 0)
                        return true;
        }
        return false;
}

const char *policy_rule_reply(const struct policy *p, const char *adapter, const char *chat_id,
                              const char *text)
{
        _cleanup_free_ char *lower = NULL;

        for (size_t i = 0; i < p->n_rules; i++) {
                const struct policy_rule *r = &p->rules[i];

                if (!policy_rule_applies(r, adapter, chat_id))
                        continue;

                if (r->is_regex) {
                        if (regexec(&r->regex, text, 0, NULL, 0) == 0)
                                return r->reply;
                        continue;
                }

                if (!lower && !(lower = ascii_lower(text)))
                        return NULL;
                if (strstr(lower, r->match))
                        return r->reply;
        }
        return NULL;
}
