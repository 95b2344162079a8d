# src/text.mk: rules for the text modules and their tests.
