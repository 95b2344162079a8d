/* slack-text.h: Slack's text rules for what parley sends and receives.
 *
 * Slack escapes '&', '<' and '>' in message text as &amp;, &lt; and &gt;
 * (the three characters mark links and mentions), and recommends at most
 * SLACK_TEXT_MAX characters per message.  Lengths here are in Unicode code
 * points of the escaped text, as Slack counts them. */
#ifndef PARLEY_SLACK_TEXT_H
#define PARLEY_SLACK_TEXT_H

#include <stddef.h>

#define SLACK_TEXT_MAX 4000     /* code points of escaped text per message */

/* The text with &, < and > escaped; NULL when out of memory. */
char *slack_text_escape(const char *text);

/* Slack's escapes undone, and every mention of user_id ("<@U123>" or
 * "<@U123|name>") removed, with the blanks around the text trimmed; NULL
 * when out of memory.  user_id may be NULL. */
char *slack_text_incoming(const char *text, const char *user_id);

/* Splits text into parts each at most max_points code points once
 * escaped, cutting at the last paragraph break, else sentence end, else
 * blank within the limit, else at a code point boundary; never inside a
 * UTF-8 sequence.  Blanks at the cut are dropped.  Fills *ret_parts
 * (each part escaped, the array NULL terminated) and *ret_n; -ENOMEM, or
 * -EINVAL for max_points < 8. */
int slack_text_split(const char *text, size_t max_points, char ***ret_parts, size_t *ret_n);

/* Frees a NULL-terminated array from slack_text_split(); NULL is accepted. */
void slack_text_parts_free(char **parts);

#endif
