# conf/local.mk: the example configuration and the systemd unit.
parleyconfdir = $(sysconfdir)/parley
dist_parleyconf_DATA = conf/parleyd.conf

systemdsystemunit_DATA = systemd/parleyd.service
CLEANFILES += systemd/parleyd.service
EXTRA_DIST += systemd/parleyd.service.in

systemd/parleyd.service: $(srcdir)/systemd/parleyd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && \
	sed -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
		$(srcdir)/systemd/parleyd.service.in > $@
