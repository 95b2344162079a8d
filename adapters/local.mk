# adapters/local.mk: the platform adapters, built into libparley.a.
src_libparley_a_SOURCES += \
	adapters/adapter.h \
	adapters/registry.c \
	adapters/console.c \
	adapters/telegram.c
