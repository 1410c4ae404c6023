# Building, installing and packaging libpaio, in the manner of liburing's
# Makefile: no tool beyond cargo, a C toolchain's binutils and coreutils.
#
#   make                                  build libpaio.so and libpaio.a (release)
#   sudo make install [PREFIX=/usr/local] [DESTDIR=staging]
#   sudo make uninstall [PREFIX=…] [DESTDIR=…]
#   make deb                              a .deb from the tree (dpkg-deb, dpkg-shlibdeps)
#   make man-check                        render the man pages with every groff warning on
#
# Cargo's build stays the only build: `make` runs `cargo build`, honouring
# CARGO_TARGET_DIR (default target/); `install` copies what it built and
# builds only when the libraries are missing, so `make && sudo make install`
# never compiles as root. (sudo drops CARGO_TARGET_DIR: pass it on the
# command line when the build used one.)

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR ?=

CARGO ?= cargo
INSTALL ?= install
# Run after installing into the live system (no DESTDIR) as root, so the
# dynamic linker's cache knows libpaio.so.N at once; `LDCONFIG=true` skips it.
LDCONFIG ?= ldconfig
CARGO_TARGET_DIR ?= target
export CARGO_TARGET_DIR

# The package version is Cargo.toml's; its major number is the SONAME's
# (build.rs sets `libpaio.so.$(SOMAJOR)` from the same number).
VERSION := $(shell awk -F'"' '/^\[/ { p = ($$0 == "[package]") } p && /^version *=/ { print $$2; exit }' Cargo.toml)
SOMAJOR := $(firstword $(subst ., ,$(VERSION)))

BUILD := $(CARGO_TARGET_DIR)/release
SO := $(BUILD)/libpaio.so
A := $(BUILD)/libpaio.a

# paio-stat (stat/, the statistics viewer) is built and installed with the
# library once it is part of the tree.
HAVE_STAT := $(wildcard stat/Cargo.toml)
STAT := $(if $(HAVE_STAT),$(BUILD)/paio-stat)

MAN1 := $(if $(HAVE_STAT),paio-stat.1)
MAN3 := aio_readv.3 aio_waitcomplete.3 paio_completion_fd.3 paio_stats.3
MAN7 := paio.7
# Pages that document a second name: installed as a symlink to the first.
MAN3_LINKS := aio_writev.3:aio_readv.3

.PHONY: all install uninstall deb man-check clean-deb

# In libpaio.a, paio's `pthread_cancel` is made local: a static program has
# no `dlsym` to find the C library's, so paio's would have nothing to call
# (`ENOSYS`); the program gets the C library's own (README, "Static library").
all:
	$(CARGO) build --release -p paio --lib
	$(CARGO) rustc --release -p paio --lib --crate-type staticlib
	objcopy --localize-symbol=pthread_cancel $(A)
	$(if $(HAVE_STAT),$(CARGO) build --release -p paio-stat)

$(SO) $(A) $(STAT):
	$(MAKE) all

# paio.pc, written straight into the install, so it names that install's
# directories and nothing in the build tree gets written by `sudo make
# install`. Libs.private: what the Rust standard library inside libpaio.a
# needs, as `rustc --print native-static-libs` lists it (the gcc driver
# adds the unwinder, libgcc_s or libgcc_eh, itself; since glibc 2.34 these
# are empty stubs, kept for older toolchains).
PC_LINES := \
	'prefix=$(PREFIX)' \
	'libdir=$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))' \
	'includedir=$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))' \
	'' \
	'Name: paio' \
	'Description: POSIX asynchronous I/O for Linux with glibc'"'"'s ABI: kernel AIO, lock-free submission, user-space retry' \
	'Version: $(VERSION)' \
	'Libs: -L$${libdir} -lpaio' \
	'Libs.private: -lutil -lrt -lpthread -lm -ldl' \
	'Cflags: -I$${includedir}'

install: $(SO) $(A) $(STAT)
	$(INSTALL) -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man7
	$(INSTALL) -m 0755 $(SO) $(DESTDIR)$(LIBDIR)/libpaio.so.$(VERSION)
	ln -sfn libpaio.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libpaio.so.$(SOMAJOR)
	ln -sfn libpaio.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libpaio.so
	$(INSTALL) -m 0644 $(A) $(DESTDIR)$(LIBDIR)/libpaio.a
	$(INSTALL) -m 0644 include/paio.h $(DESTDIR)$(INCLUDEDIR)/paio.h
	printf '%s\n' $(PC_LINES) > $(DESTDIR)$(PKGCONFIGDIR)/paio.pc
	chmod 0644 $(DESTDIR)$(PKGCONFIGDIR)/paio.pc
	$(INSTALL) -m 0644 $(addprefix man/,$(MAN3)) $(DESTDIR)$(MANDIR)/man3/
	$(INSTALL) -m 0644 $(addprefix man/,$(MAN7)) $(DESTDIR)$(MANDIR)/man7/
	$(foreach l,$(MAN3_LINKS),ln -sfn $(word 2,$(subst :, ,$(l))) $(DESTDIR)$(MANDIR)/man3/$(word 1,$(subst :, ,$(l)));)
	$(if $(STAT),$(INSTALL) -d $(DESTDIR)$(BINDIR) && $(INSTALL) -m 0755 $(STAT) $(DESTDIR)$(BINDIR)/paio-stat)
	$(if $(MAN1),$(INSTALL) -d $(DESTDIR)$(MANDIR)/man1 && $(INSTALL) -m 0644 $(addprefix man/,$(MAN1)) $(DESTDIR)$(MANDIR)/man1/)
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then echo "$(LDCONFIG)"; $(LDCONFIG) || true; fi

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libpaio.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libpaio.so.$(SOMAJOR) \
		$(DESTDIR)$(LIBDIR)/libpaio.so $(DESTDIR)$(LIBDIR)/libpaio.a \
		$(DESTDIR)$(INCLUDEDIR)/paio.h $(DESTDIR)$(PKGCONFIGDIR)/paio.pc \
		$(addprefix $(DESTDIR)$(MANDIR)/man3/,$(MAN3) $(foreach l,$(MAN3_LINKS),$(word 1,$(subst :, ,$(l))))) \
		$(addprefix $(DESTDIR)$(MANDIR)/man7/,$(MAN7)) $(DESTDIR)$(BINDIR)/paio-stat \
		$(DESTDIR)$(MANDIR)/man1/paio-stat.1
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then echo "$(LDCONFIG)"; $(LDCONFIG) || true; fi

# The Debian package: `make install` into a staging tree with Debian's
# paths, stripped and compressed as Debian policy asks, then dpkg-deb. One
# binary package, `paio`, holds the runtime and the development files alike.
comma := ,
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null)
DEB_MULTIARCH := $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null)
DEB_WORK := $(BUILD)/deb
DEB_ROOT := $(DEB_WORK)/debian/paio
DEB_LIBDIR := /usr/lib/$(DEB_MULTIARCH)
DEB := $(BUILD)/paio_$(VERSION)_$(DEB_ARCH).deb

deb: $(SO) $(A) $(STAT)
	@test -n "$(DEB_ARCH)" -a -n "$(DEB_MULTIARCH)" || { echo "make deb needs dpkg (dpkg --print-architecture)"; exit 1; }
	rm -rf $(DEB_WORK)
	$(MAKE) --no-print-directory install DESTDIR=$(abspath $(DEB_ROOT)) PREFIX=/usr LIBDIR=$(DEB_LIBDIR) LDCONFIG=true
	strip --remove-section=.comment --remove-section=.note --strip-unneeded $(DEB_ROOT)$(DEB_LIBDIR)/libpaio.so.$(VERSION)
	strip --strip-debug --enable-deterministic-archives $(DEB_ROOT)$(DEB_LIBDIR)/libpaio.a
	$(if $(STAT),strip --remove-section=.comment --remove-section=.note $(DEB_ROOT)/usr/bin/paio-stat)
	gzip -9n $(addprefix $(DEB_ROOT)/usr/share/man/man1/,$(MAN1)) $(addprefix $(DEB_ROOT)/usr/share/man/man3/,$(MAN3)) \
		$(addprefix $(DEB_ROOT)/usr/share/man/man7/,$(MAN7))
	$(foreach l,$(MAN3_LINKS),ln -sfn $(word 2,$(subst :, ,$(l))).gz $(DEB_ROOT)/usr/share/man/man3/$(word 1,$(subst :, ,$(l))).gz && rm -f $(DEB_ROOT)/usr/share/man/man3/$(word 1,$(subst :, ,$(l)));)
	$(INSTALL) -d $(DEB_ROOT)/usr/share/doc/paio $(DEB_ROOT)/DEBIAN
	$(INSTALL) -m 0644 packaging/copyright $(DEB_ROOT)/usr/share/doc/paio/copyright
	gzip -9nc README.md > $(DEB_ROOT)/usr/share/doc/paio/README.md.gz
	gzip -9nc LD_PRELOAD.md > $(DEB_ROOT)/usr/share/doc/paio/LD_PRELOAD.md.gz
	printf 'Source: paio\n\nPackage: paio\nArchitecture: any\n' > $(DEB_WORK)/debian/control
	cd $(DEB_WORK) && dpkg-shlibdeps -Tdebian/substvars -e debian/paio$(DEB_LIBDIR)/libpaio.so.$(VERSION) $(if $(STAT),-e debian/paio/usr/bin/paio-stat)
	printf 'libpaio %s paio (>= %s)\n' $(SOMAJOR) $(VERSION) > $(DEB_ROOT)/DEBIAN/shlibs
	printf 'activate-noawait ldconfig\n' > $(DEB_ROOT)/DEBIAN/triggers
	{ \
	  echo 'Package: paio'; \
	  echo 'Version: $(VERSION)'; \
	  echo 'Architecture: $(DEB_ARCH)'; \
	  echo 'Maintainer: paio developers <paio@localhost>'; \
	  echo "Installed-Size: $$(du -sk --exclude=DEBIAN $(DEB_ROOT) | cut -f1)"; \
	  sed -n 's/^shlibs:Depends=/Depends: /p' $(DEB_WORK)/debian/substvars; \
	  echo 'Section: libs'; \
	  echo 'Priority: optional'; \
	  echo 'Description: POSIX asynchronous I/O for Linux, a drop-in for glibc'"'"'s'; \
	  echo ' libpaio.so exports aio_read, aio_write, aio_fsync, lio_listio, aio_error,'; \
	  echo ' aio_return, aio_suspend, aio_cancel, aio_init and every *64 name with'; \
	  echo ' glibc'"'"'s ABI: preload it (LD_PRELOAD) under an unmodified program, or link'; \
	  echo ' -lpaio. Requests run on kernel AIO, complete inline when they cannot block,'; \
	  echo ' and are retried on a bounded worker pool when they would.'; \
	  echo ' .'; \
	  echo ' This package holds the shared and static libraries, paio.h, paio.pc'; \
	  echo ' and the manual pages paio(7), aio_readv(3), aio_waitcomplete(3),'; \
	  echo ' paio_completion_fd(3) and paio_stats(3)$(if $(STAT),$(comma) and the paio-stat command$(comma) with paio-stat(1)).'; \
	} > $(DEB_ROOT)/DEBIAN/control
	cd $(DEB_ROOT) && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum > DEBIAN/md5sums
	dpkg-deb --root-owner-group -Zxz --build $(DEB_ROOT) $(DEB)

clean-deb:
	rm -rf $(DEB_WORK) $(DEB)

# Every page through groff with all warnings on (-ww), output discarded:
# anything on stderr is a defect. The test suite runs the same check through
# `man -l` (ctests/tests/install.rs).
man-check:
	@status=0; for p in $(addprefix man/,$(MAN1) $(MAN3) $(MAN7)); do \
		out=$$(groff -man -ww -z -Tutf8 $$p 2>&1); \
		if [ -n "$$out" ]; then echo "$$p:"; echo "$$out"; status=1; fi; \
	done; exit $$status
