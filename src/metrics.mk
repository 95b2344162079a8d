# src/metrics.mk: rules for the metrics modules and their tests.
