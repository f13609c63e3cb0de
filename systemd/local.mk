# systemd: the dt4ecgd unit, its user (sysusers.d) and directories
# (tmpfiles.d), installed where pkg-config's systemd says.
systemdsystemunit_DATA = systemd/dt4ecgd.service systemd/dt4ecgd@.service
sysusers_DATA = systemd/dt4ecg.sysusers
tmpfiles_DATA = systemd/dt4ecg.tmpfiles
EXTRA_DIST += systemd/dt4ecgd.service.in systemd/dt4ecg.sysusers \
	systemd/dt4ecg.tmpfiles systemd/dt4ecgd@.service.in
CLEANFILES += systemd/dt4ecgd.service systemd/dt4ecgd@.service

# Substituted at make time so that prefix overrides (make prefix=...) apply.
systemd/dt4ecgd.service: $(srcdir)/systemd/dt4ecgd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && sed \
	    -e 's|@sbindir[@]|$(sbindir)|g' \
	    -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	    -e 's|@docdir[@]|$(docdir)|g' \
	    $(srcdir)/systemd/dt4ecgd.service.in > $@.tmp && mv $@.tmp $@

# one replica of a chain per instance (docs/dt4ecgd.md, "Running a chain")
systemd/dt4ecgd@.service: $(srcdir)/systemd/dt4ecgd@.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && sed \
	    -e 's|@sbindir[@]|$(sbindir)|g' \
	    -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	    -e 's|@docdir[@]|$(docdir)|g' \
	    $(srcdir)/systemd/dt4ecgd@.service.in > $@.tmp && mv $@.tmp $@

# sysusers.d/tmpfiles.d install under their own names.
install-data-hook: install-dt4ecg-sysusers
install-dt4ecg-sysusers:
	cd $(DESTDIR)$(sysusersdir) && mv -f dt4ecg.sysusers dt4ecg.conf
	cd $(DESTDIR)$(tmpfilesdir) && mv -f dt4ecg.tmpfiles dt4ecg.conf
uninstall-hook: uninstall-dt4ecg-sysusers
uninstall-dt4ecg-sysusers:
	rm -f $(DESTDIR)$(sysusersdir)/dt4ecg.conf \
	    $(DESTDIR)$(tmpfilesdir)/dt4ecg.conf
.PHONY: install-dt4ecg-sysusers uninstall-dt4ecg-sysusers
