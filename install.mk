# `make install` and `make uninstall`, included by the main Makefile.
# GNU directory variables: PREFIX (default /usr/local), DESTDIR for staged
# installs, BINDIR, LIBDIR, INCLUDEDIR, PKGCONFIGDIR, MANDIR, COMPLETIONDIR.
# zonedev.pc is
# written with the final (DESTDIR-less) paths so a staged tree, once moved
# into place, resolves. Installing never rebuilds with other flags: it
# copies what `make` built (the plain tree, or SANITIZE's).

PREFIX       ?= /usr/local
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR       ?= $(PREFIX)/share/man
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
INSTALL      ?= install

PUBLIC_HEADERS := $(sort $(wildcard include/zonedev/*.h))

# The man pages come from the built binary's --help texts and from
# docs/scenarios.md (man/gen-man.sh), so they are rebuilt with either.
MAN_DIR := $(BUILD)/man
$(MAN_DIR)/.stamp: $(BUILD)/zonedev docs/scenarios.md man/gen-man.sh man/help2roff.awk \
		man/md2roff.awk
	rm -rf $(MAN_DIR)
	sh man/gen-man.sh $(BUILD)/zonedev $(CURDIR) $(MAN_DIR) $(VERSION)
	touch $@
man: $(MAN_DIR)/.stamp

install: all man
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) \
	  $(DESTDIR)$(INCLUDEDIR)/zonedev $(DESTDIR)$(PKGCONFIGDIR) \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(COMPLETIONDIR)
	$(INSTALL) -m 644 $(MAN_DIR)/*.1 $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 644 $(MAN_DIR)/*.5 $(DESTDIR)$(MANDIR)/man5/
	$(INSTALL) -m 644 completion/zonedev.bash $(DESTDIR)$(COMPLETIONDIR)/zonedev
	$(INSTALL) -m 755 $(BUILD)/zonedev $(DESTDIR)$(BINDIR)/zonedev
	$(INSTALL) -m 644 $(BUILD)/libzonedev.a $(DESTDIR)$(LIBDIR)/libzonedev.a
	$(INSTALL) -m 755 $(BUILD)/libzonedev.so.$(VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf libzonedev.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf libzonedev.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libzonedev.so
	$(INSTALL) -m 644 $(PUBLIC_HEADERS) $(DESTDIR)$(INCLUDEDIR)/zonedev/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    zonedev.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/zonedev.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/zonedev.pc

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/zonedev $(DESTDIR)$(LIBDIR)/libzonedev.a \
	  $(DESTDIR)$(LIBDIR)/libzonedev.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME) \
	  $(DESTDIR)$(LIBDIR)/libzonedev.so $(DESTDIR)$(PKGCONFIGDIR)/zonedev.pc
	rm -f $(PUBLIC_HEADERS:include/%=$(DESTDIR)$(INCLUDEDIR)/%)
	rm -f $(DESTDIR)$(MANDIR)/man1/zonedev.1 $(DESTDIR)$(MANDIR)/man1/zonedev-*.1 \
	  $(DESTDIR)$(MANDIR)/man5/zonedev-scenario.5 $(DESTDIR)$(COMPLETIONDIR)/zonedev
	-rmdir $(DESTDIR)$(INCLUDEDIR)/zonedev 2>/dev/null

.PHONY: install uninstall man
