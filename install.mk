# `make install` and `make uninstall`, included by the main Makefile.
# GNU directory variables: PREFIX (default /usr/local), DESTDIR for staged
# installs, BINDIR, LIBDIR, INCLUDEDIR, PKGCONFIGDIR, MANDIR. zonedev.pc is
# written with the final (DESTDIR-less) paths so a staged tree, once moved
# into place, resolves. Installing never rebuilds with other flags: it
# copies what `make` built (the plain tree, or SANITIZE's).

PREFIX       ?= /usr/local
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
INSTALL      ?= install

PUBLIC_HEADERS := $(sort $(wildcard include/zonedev/*.h))

install: all
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) \
	  $(DESTDIR)$(INCLUDEDIR)/zonedev $(DESTDIR)$(PKGCONFIGDIR)
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
	-rmdir $(DESTDIR)$(INCLUDEDIR)/zonedev 2>/dev/null

.PHONY: install uninstall
