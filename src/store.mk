# src/store.mk: rules for the store modules and their tests.
