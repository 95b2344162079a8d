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
	tests/test-reload.sh \
	tests/test-health.py \
	tests/test-deploy.sh \
	tests/test-sandbox.sh \
	tests/test-matrix.py \
	tests/test-telegram.py \
	tests/test-telegram-webhook.py \
	tests/test-telegram-token.py \
	tests/test-telegram-crash.py \
	tests/test-slack.py \
	tests/test-slack-events.py \
	tests/test-style.py
EXTRA_DIST += \
	tests/test-style.py \
	tests/lib/common.sh \
	tests/test-console.sh \
	tests/test-crash.sh \
	tests/test-config.sh \
	tests/test-man.sh \
	tests/test-notify.py \
	tests/test-assistant.sh \
	tests/test-db.sh \
	tests/test-mainjob.sh \
	tests/test-reload.sh \
	tests/test-health.py \
	tests/test-deploy.sh \
	tests/test-sandbox.sh \
	tests/lib/manifest-facts.py \
	tests/summary.sh \
	tests/lsan.supp \
	tests/test-matrix.py \
	tests/fake/matrix.py \
	tests/test-telegram.py \
	tests/test-telegram-webhook.py \
	tests/test-telegram-token.py \
	tests/test-telegram-crash.py \
	tests/fake/telegram.py \
	tests/lib/telegram_harness.py \
	tests/test-slack.py \
	tests/test-slack-events.py \
	tests/fake/slack.py

# The load benches (not tests: they print figures) travel with the source.
EXTRA_DIST += docs/slack-app-manifest.yaml
EXTRA_DIST += bench/loadlib.py bench/load-telegram.py bench/load-slack.py bench/load-matrix.py
