# tests/local.mk: tests that run the daemon as a whole.
TESTS += \
	tests/test-console.sh \
	tests/test-crash.sh \
	tests/test-config.sh \
	tests/test-man.sh \
	tests/test-notify.py \
	tests/test-assistant.sh \
	tests/test-db.sh \
	tests/test-mainjob.sh \
	tests/test-slack.py
EXTRA_DIST += \
	tests/lib/common.sh \
	tests/test-console.sh \
	tests/test-crash.sh \
	tests/test-config.sh \
	tests/test-man.sh \
	tests/test-notify.py \
	tests/test-assistant.sh \
	tests/test-db.sh \
	tests/test-mainjob.sh \
	tests/summary.sh \
	tests/test-slack.py \
	tests/fake/slack.py
