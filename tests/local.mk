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
	tests/test-matrix.py
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
	tests/test-reload.sh \
	tests/test-health.py \
	tests/test-deploy.sh \
	tests/test-sandbox.sh \
	tests/lib/manifest-facts.py \
	tests/summary.sh \
	tests/test-matrix.py \
	tests/fake/matrix.py
