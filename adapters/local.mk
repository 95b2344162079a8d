# adapters/local.mk: the platform adapters.
