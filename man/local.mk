# man/local.mk: the manual pages.
dist_man_MANS += man/parley.1 man/parleyd.8 man/parleyd.conf.5
