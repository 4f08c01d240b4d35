# Makefile for cr: one static musl binary. Plain GNU make, no configure step.
#
#   make deps     install the build tools and fetch nanopb's and inih's sources
#                 from Debian's packages (root; apt-get through a private list)
#   make          build ./cr (static, stripped) and print its size
#   make demo     deps + build + a live process checkpointed and restored
#   make check    build, then run test.sh (tier 0; as root tier 1 and the
#                 VM tier too)
#   make vm-check the VM tier alone
#   make vm-check-aarch64  the arm64 VM tier alone (cr-aarch64 under
#                 qemu-system-aarch64)
#   make cross    cr-aarch64 and cr-riscv64 (cr-armhf by name): the same
#                 sources and flags, Debian's cross gcc, musl from Debian
#   make size     every built binary against the size budget
#   make docs     docs/options.md from cr.c's option and command tables
#
# NANOPB_SRC=, INIH_SRC= and XXH_SRC= point the build at your own release checkouts
# (Buildroot, Alpine, an offline mirror) instead of the fetched ones.

VERSION    = 0.1.0
PREFIX     = /usr/local
CC         = musl-gcc
PYTHON     = /usr/bin/python3
NANOPB_GEN = /usr/bin/nanopb_generator.py
DEPS       = .deps
NANOPB_VER = 0.4.7
INIH_VER   = 59
NANOPB_SRC = $(DEPS)/nanopb-$(NANOPB_VER)
INIH_SRC   = $(DEPS)/inih-r$(INIH_VER)
# xxHash (XXH3-128, the checkpoint manifest's checksum): its one header,
# from Debian trixie's source package
XXH_VER    = 0.8.3
XXH_SRC    = $(DEPS)/xxHash-$(XXH_VER)
BUDGET     = 131072

WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wformat-security -Wno-missing-field-initializers
WERROR   = -Werror
# inih: line numbers for our own messages, no multi-line values (a stray
# indent must not silently extend the previous value), and a line limit far
# above any valid line so over-long values reach cr's own checks.
INI_DEFS = -DINI_HANDLER_LINENO=1 -DINI_ALLOW_MULTILINE=0 -DINI_MAX_LINE=8192 \
           -DINI_STOP_ON_FIRST_ERROR=1 -DINI_CALL_HANDLER_ON_NEW_SECTION=1 \
           -DINI_ALLOW_INLINE_COMMENTS=0
# PB_NO_ERRMSG: nanopb's own error strings cost 1.4 KB; cr says what failed
# to decode, and how big it was, itself.
CPPFLAGS_CR = -DCR_VERSION=\"$(VERSION)\" $(INI_DEFS) -DPB_BUFFER_ONLY=1 -DPB_NO_ERRMSG=1 \
           -Inanopb -I$(INIH_SRC) -I$(XXH_SRC)
# No -fstack-protector-strong: its canaries cost 3.5 KB of the 100 KB
# budget. cr's buffers are all written through bounded calls (its own
# snprintf, read_file_at, nanopb's size-checked streams).
# -Oz -fno-jump-tables: 1.2 KB below -Os (cr is never CPU-bound); -fno-pie:
# 1.3 KB (Debian's gcc makes PIE code by default, and a static non-PIE
# binary gains nothing from it).
CFLAGS_CR  = -std=c11 -Oz -fno-jump-tables -pipe -fno-pie -ffunction-sections -fdata-sections \
           -fno-asynchronous-unwind-tables $(WARN)
# common-page-size=16: the read-write segment is a few hundred bytes, and
# with the default ld may page-align it in the file, up to 4 KB of padding
# that came and went with the size of .rodata.
LDFLAGS_CR = -static -Wl,--gc-sections -Wl,-z,noseparate-code -Wl,-z,norelro -Wl,-z,noexecstack \
           -Wl,-z,common-page-size=16 -s

# The section headers go too (1.1 KB): the kernel loads a program by its
# program headers, and a stripped static binary has no use for the rest
# (file(1) still says "statically linked"; readelf -S shows nothing). With
# llvm-objcopy, from make deps' llvm; without it the binary keeps them.
STRIP_SECTIONS = if command -v llvm-objcopy >/dev/null; then llvm-objcopy --strip-sections $@; \
	else echo "no llvm-objcopy: $@ keeps its section headers (make deps installs llvm)" >&2; fi

PB_RT  = nanopb/pb.h nanopb/pb_common.h nanopb/pb_common.c nanopb/pb_encode.h \
         nanopb/pb_encode.c nanopb/pb_decode.h nanopb/pb_decode.c
SRC    = cr.c nanopb/rpc.pb.c nanopb/images.pb.c nanopb/pb_common.c nanopb/pb_encode.c nanopb/pb_decode.c \
         $(INIH_SRC)/ini.c

.SECONDARY:
.PHONY: all deps demo check vm-check vm-check-aarch64 asan fuzz bench bench-quick install uninstall clean proto size cross

all: cr

cr: $(SRC) nanopb/rpc.pb.h nanopb/images.pb.h $(PB_RT) $(INIH_SRC)/ini.h $(XXH_SRC)/xxhash.h
	$(CC) $(CPPFLAGS_CR) $(CPPFLAGS) $(CFLAGS_CR) $(WERROR) $(CFLAGS) -o $@ $(SRC) $(LDFLAGS_CR) $(LDFLAGS)
	$(STRIP_SECTIONS)
	@echo "cr: $$(stat -c %s $@) bytes (budget $(BUDGET))"

# cr-asan: the same sources with AddressSanitizer and
# UndefinedBehaviorSanitizer, built against glibc with clang (musl has no
# sanitizer runtime). test.sh runs tier 1 against it after the real cr;
# `make asan` runs tiers 0 and 1 with it alone.
ASAN_CC = clang
cr-asan: $(SRC) nanopb/rpc.pb.h nanopb/images.pb.h $(PB_RT) $(INIH_SRC)/ini.h $(XXH_SRC)/xxhash.h
	$(ASAN_CC) $(CPPFLAGS_CR) -std=c11 -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
		-fno-sanitize-recover=all $(WARN) -Wno-gnu-zero-variadic-macro-arguments -o $@ $(SRC)

asan: cr-asan
	CR=./cr-asan CR_SANITIZED=1 CR_TEST_VM=0 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 sh ./test.sh

# libFuzzer harnesses for the decoders (fuzz/): FUZZ_SECS each, after
# replaying the inputs kept in fuzz/regress/. test.sh runs a 10 s smoke.
FUZZ_SECS = 60
fuzz: cr
	sh fuzz/run.sh $(FUZZ_SECS)

# Cross builds: one static binary per architecture, from the same sources
# and flags, with Debian's cross gcc and the target's musl unpacked from
# Debian's package (musl-gcc's own specs file, its paths pointed there).
# Per architecture: Debian's name, gcc's triplet, musl's triplet, the suite
# whose musl is used (bookworm has no riscv64 port; trixie does), and the
# compiler: the one that makes the smaller binary there, with the same
# flags (aarch64: clang and lld 14, 120.7 KB against gcc 12's 127.6 KB;
# riscv64 and x86_64: gcc, 108.1 against 115.8 and 109.8 against 114.0).
CROSS_aarch64 = arm64 aarch64-linux-gnu aarch64-linux-musl bookworm clang
CROSS_riscv64 = riscv64 riscv64-linux-gnu riscv64-linux-musl trixie gcc
CROSS_armhf   = armhf arm-linux-gnueabihf arm-linux-musleabihf bookworm gcc
# what `make cross` builds: the architectures Debian ships CRIU for
# (armhf has no criu package in any suite; cr-armhf builds on request)
CROSS_ARCHS   = aarch64 riscv64
cx = $(word $(2),$(CROSS_$(1)))

cross: $(addprefix cr-,$(CROSS_ARCHS))
	@for a in $(CROSS_ARCHS); do echo "cr-$$a: $$(stat -c %s cr-$$a) bytes (budget $(BUDGET))"; done

$(DEPS)/musl-%/complete:
	sh tests/debfetch.sh binary $(DEPS)/musl-$* $(call cx,$*,1) $(call cx,$*,4) musl musl-dev

$(DEPS)/musl-%/gcc.specs: $(DEPS)/musl-%/complete
	sed 's|/usr/include/|$(CURDIR)/$(DEPS)/musl-$*/root/usr/include/|g; s|/usr/lib/|$(CURDIR)/$(DEPS)/musl-$*/root/usr/lib/|g' \
		$(DEPS)/musl-$*/root/usr/lib/$(call cx,$*,3)/musl-gcc.specs >$@

# gcc: musl-gcc's specs. clang: the same by hand (musl's headers and crt
# files, libgcc from the cross gcc for the compiler's helpers, lld; musl's
# CMSG_NXTHDR compares a size_t with a long, which clang flags in cr.c).
cross_root = $(CURDIR)/$(DEPS)/musl-$(1)/root/usr
cross_cc_gcc = $(call cx,$(1),2)-gcc -specs=$(DEPS)/musl-$(1)/gcc.specs
cross_cc_clang = clang --target=$(call cx,$(1),3) -nostdinc -isystem $(call cross_root,$(1))/include/$(call cx,$(1),3) \
	-isystem $$(clang -print-resource-dir)/include -fuse-ld=lld -nostdlib
cross_warn_clang = -Wno-sign-compare
# aarch64 only: what keeps cr-aarch64 in the budget (measured with clang
# 14): the tiny code model, one instruction per address instead of two
# (6.5 KB; cr.c keeps its data within its megabyte: see BIG), no frame
# pointer, no SIMD registers (cr.c does no floating point; the varargs
# prologues stop saving q0-q7), LTO and identical code folding (1.9 KB
# together), jump tables (0.3 KB: the fixed-size instructions make
# compares dearer than on x86)
cross_flags_aarch64 = -fjump-tables -fomit-frame-pointer -mgeneral-regs-only -flto -mcmodel=tiny -Wl,--icf=all -Wl,--build-id=none
# riscv64 only (gcc 12): gcc inlines each function called once into its
# caller, which on riscv64 costs more than the calls it saves (the big
# command functions' frames and spills): 2.1 KB without it, 0.3 more with LTO
cross_flags_riscv64 = -flto -fno-inline-functions-called-once
cross_crt_clang = $(addprefix $(call cross_root,$(1))/lib/$(call cx,$(1),3)/,crt1.o crti.o)
cross_lib_clang = $(call cross_root,$(1))/lib/$(call cx,$(1),3)/libc.a $$($(call cx,$(1),2)-gcc -print-libgcc-file-name) \
	$(call cross_root,$(1))/lib/$(call cx,$(1),3)/crtn.o

cr-%: $(SRC) nanopb/rpc.pb.h nanopb/images.pb.h $(PB_RT) $(INIH_SRC)/ini.h $(XXH_SRC)/xxhash.h $(DEPS)/musl-%/gcc.specs
	@command -v $(call cx,$*,2)-gcc >/dev/null || { echo "no $(call cx,$*,2)-gcc: run 'make deps' as root" >&2; false; }
	$(call cross_cc_$(call cx,$*,5),$*) $(CPPFLAGS_CR) $(CPPFLAGS) $(CFLAGS_CR) $(WERROR) $(cross_warn_$(call cx,$*,5)) $(cross_flags_$*) $(CFLAGS) \
		-o $@ $(call cross_crt_$(call cx,$*,5),$*) $(SRC) $(call cross_lib_$(call cx,$*,5),$*) $(LDFLAGS_CR) $(LDFLAGS)
	$(STRIP_SECTIONS)
	@echo "cr-$*: $$(stat -c %s $@) bytes (budget $(BUDGET))"

# tests/workload.c for another architecture's VM tier (tests/vm/run.sh with
# CR_VM_ARCH): cr-%'s compiler and musl, static.
$(addprefix tests/bin/workload-,$(CROSS_ARCHS) armhf): tests/bin/workload-%: tests/workload.c $(DEPS)/musl-%/gcc.specs
	@mkdir -p tests/bin
	$(call cross_cc_$(call cx,$*,5),$*) -O2 -Wall $(cross_warn_$(call cx,$*,5)) -o $@ $(call cross_crt_$(call cx,$*,5),$*) \
		tests/workload.c $(call cross_lib_$(call cx,$*,5),$*) -static

size: cr
	@st=0; for b in cr $(wildcard $(addprefix cr-,$(CROSS_ARCHS) armhf)); do \
		s=$$(stat -c %s $$b); echo "$$b: $$s bytes (budget $(BUDGET))"; [ $$s -le $(BUDGET) ] || st=1; done; exit $$st

# The nanopb runtime is copied from its release source into nanopb/, next to
# the code generated from rpc.proto; nothing under nanopb/ is committed.
$(PB_RT): | $(NANOPB_SRC)/pb.h
	@mkdir -p nanopb
	cp $(NANOPB_SRC)/$(notdir $@) $@

# One generator run makes both files (not a rule per file, which make -j
# would run twice at once).
nanopb/rpc.pb.h: nanopb/rpc.pb.c
nanopb/rpc.pb.c: rpc.proto rpc.options | $(NANOPB_GEN)
	@mkdir -p nanopb
	$(PYTHON) $(NANOPB_GEN) -q -I. -D nanopb rpc.proto

# images.proto: what cr inspect reads of CRIU's image files
nanopb/images.pb.h: nanopb/images.pb.c
nanopb/images.pb.c: images.proto images.options | $(NANOPB_GEN)
	@mkdir -p nanopb
	$(PYTHON) $(NANOPB_GEN) -q -I. -D nanopb images.proto

# docs/options.md: every flag of every command, from cr.c's tables
# (tests/gen-options.py); test.sh fails when it is not current.
.PHONY: docs
docs:
	$(PYTHON) tests/gen-options.py cr.c >docs/options.md.tmp
	mv docs/options.md.tmp docs/options.md

proto:
	rm -f nanopb/rpc.pb.c nanopb/rpc.pb.h nanopb/images.pb.c nanopb/images.pb.h
	$(MAKE) nanopb/rpc.pb.c nanopb/images.pb.c

$(NANOPB_SRC)/pb.h $(INIH_SRC)/ini.h $(INIH_SRC)/ini.c $(XXH_SRC)/xxhash.h $(NANOPB_GEN):
	@echo "missing $@: run 'make deps' as root (or set NANOPB_SRC=/INIH_SRC=/XXH_SRC= to release checkouts)" >&2
	@false

# Build dependencies from Debian's packages. The sources come through a
# private apt configuration under $(DEPS) (deb-src lines for bookworm, which
# carries nanopb 0.4.7, and trixie, which carries inih 59), built from the
# mirror the system already uses: the system's apt sources are not touched.
deps:
	@test "$$(id -u)" = 0 || { echo "make deps needs root (apt-get)" >&2; exit 1; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q musl-tools nanopb protobuf-compiler clang llvm libclang-rt-14-dev \
		$(MATRIX_PKGS)
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(CROSS_PKGS)
	sh tests/debfetch.sh source $(DEPS)/apt nanopb=$(NANOPB_VER)-2 libinih=$(INIH_VER)-1 xxhash=$(XXH_VER)-2
	cd $(DEPS) && tar xzf apt/src/nanopb_$(NANOPB_VER).orig.tar.gz && tar xzf apt/src/libinih_$(INIH_VER).orig.tar.gz && \
		tar xzf apt/src/xxhash_$(XXH_VER).orig.tar.gz
	@echo "deps ready: $(NANOPB_SRC) $(INIH_SRC)"

# The programs of tier 1's compatibility matrix (tests/matrix.sh): real
# programs from Debian's packages, checkpointed and migrated as users run them.
MATRIX_PKGS = python3 nodejs default-jre-headless sqlite3 tmux curl iproute2 gcc libc6-dev
MATRIX_CMDS = python3 node java sqlite3 tmux curl ip gcc aarch64-linux-gnu-gcc riscv64-linux-gnu-gcc qemu-aarch64-static \
	qemu-system-aarch64 ld.lld llvm-objcopy

# the cross compilers (lld: cr-aarch64 links with clang and lld), arm64's
# glibc for the VM tier's dynamically linked workload (only recommended by
# the cross gcc, so named here), qemu-user for tier 0 of cr-aarch64,
# qemu-system for the arm64 VM tier
CROSS_PKGS = gcc-aarch64-linux-gnu gcc-riscv64-linux-gnu gcc-arm-linux-gnueabihf libc6-dev-arm64-cross lld \
	qemu-user-static qemu-system-arm

# demo and check work on a fresh machine: they fetch what is missing first.
HAVE_DEPS = test -f $(NANOPB_SRC)/pb.h -a -f $(INIH_SRC)/ini.c -a -f $(XXH_SRC)/xxhash.h -a -x $(NANOPB_GEN) && command -v $(CC) >/dev/null && \
	test -z "$$(for c in $(MATRIX_CMDS); do command -v $$c >/dev/null || echo $$c; done)" && \
	command -v $(ASAN_CC) >/dev/null && ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 && \
	test -f /usr/aarch64-linux-gnu/include/sys/socket.h

demo:
	@$(HAVE_DEPS) || $(MAKE) deps
	$(MAKE) cr
	sh tests/demo.sh

check:
	@$(HAVE_DEPS) || $(MAKE) deps
	$(MAKE) cr
	sh ./test.sh

# The VM tier (tests/vm/run.sh): Debian bookworm's kernel under qemu (TCG)
# with a busybox initramfs holding cr, both CRIUs and the workload.
vm-check:
	@$(HAVE_DEPS) || $(MAKE) deps
	$(MAKE) cr
	sh tests/vm/run.sh

# The same for arm64: bookworm's arm64 kernel under qemu-system-aarch64
# (TCG, -M virt) with cr-aarch64, arm64 busybox and CRIUs, and the scenarios
# of a kernel without soft-dirty tracking (test.sh runs it after vm-check).
vm-check-aarch64:
	@$(HAVE_DEPS) || $(MAKE) deps
	$(MAKE) cr-aarch64
	CR_VM_ARCH=aarch64 sh tests/vm/run.sh

# Benchmarks: cr against the criu CLI, side by side (bench/run.sh;
# docs/performance.md). Root; about 4 minutes, or 1 with bench-quick.
bench: cr
	sh bench/run.sh

bench-quick: cr
	sh bench/run.sh --quick

install: cr
	install -Dm755 cr $(DESTDIR)$(PREFIX)/bin/cr
	install -Dm644 cr.ini.example $(DESTDIR)$(PREFIX)/share/doc/cr/cr.ini.example

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/cr $(DESTDIR)$(PREFIX)/share/doc/cr/cr.ini.example

clean:
	rm -f cr cr-asan cr-aarch64 cr-riscv64 cr-armhf nanopb/*.c nanopb/*.h
