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

# The deployment files, and quickstart.sh, whose packages the Dockerfile's
# build stage must install: tests/test-deploy.sh checks them, and the image
# builds from a release tarball too.
EXTRA_DIST += Dockerfile .dockerignore docs/deploy.md quickstart.sh \
	deploy/kustomization.yaml deploy/configmap.yaml deploy/secret.yaml \
	deploy/service.yaml deploy/statefulset.yaml

# Where "make install" puts parleyd and its configuration, for
# tests/test-deploy.sh to compare with the unit's ExecStart.  Not PARLEY_*,
# which parleyd would take for configuration keys.
AM_TESTS_ENVIRONMENT += \
	parley_sbindir='$(sbindir)'; export parley_sbindir; \
	parley_sysconfdir='$(sysconfdir)'; export parley_sysconfdir;
