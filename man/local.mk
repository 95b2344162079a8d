# man/local.mk: the manual pages.
dist_man_MANS += man/parleyd.8 man/parleyd.conf.5
