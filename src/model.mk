# src/model.mk: rules for the model modules and their tests.
