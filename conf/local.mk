# conf/local.mk: the example configuration and the systemd unit.
parleyconfdir = $(sysconfdir)/parley
EXTRA_DIST += conf/parleyd.conf

# An existing parleyd.conf is someone's configuration: it is never
# overwritten; the new example goes beside it.  Uninstalling removes it only
# while it is still the example.
install-data-local: install-parleyconf
install-parleyconf:
	$(MKDIR_P) '$(DESTDIR)$(parleyconfdir)'
	if test -f '$(DESTDIR)$(parleyconfdir)/parleyd.conf'; then \
		echo "keeping $(DESTDIR)$(parleyconfdir)/parleyd.conf; the new example is parleyd.conf.example"; \
		$(INSTALL_DATA) '$(srcdir)/conf/parleyd.conf' \
			'$(DESTDIR)$(parleyconfdir)/parleyd.conf.example'; \
	else \
		$(INSTALL_DATA) '$(srcdir)/conf/parleyd.conf' '$(DESTDIR)$(parleyconfdir)/parleyd.conf'; \
	fi

uninstall-local:
	rm -f '$(DESTDIR)$(parleyconfdir)/parleyd.conf.example'
	if cmp -s '$(srcdir)/conf/parleyd.conf' '$(DESTDIR)$(parleyconfdir)/parleyd.conf'; then \
		rm -f '$(DESTDIR)$(parleyconfdir)/parleyd.conf'; \
	fi

systemdsystemunit_DATA = systemd/parleyd.service
CLEANFILES += systemd/parleyd.service
EXTRA_DIST += systemd/parleyd.service.in

systemd/parleyd.service: $(srcdir)/systemd/parleyd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && \
	sed -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
		$(srcdir)/systemd/parleyd.service.in > $@

.PHONY: install-parleyconf
