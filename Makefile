# Slipway. `make demo` and `make test` work on a fresh Debian machine as root.
SHELL := /bin/bash
DEMO_DIR ?= /tmp/slipway-demo
# Unit and pipeline files are independent and mostly wait on child processes: two at once take
# about three quarters of the time. Integration files start fleets and time keepalives: one at a time.
FAST_TEST_FILES = $(wildcard test/unit/*.test.ts) $(wildcard test/pipeline/*.test.ts)
INTEGRATION_TEST_FILES = $(wildcard test/integration/*.test.ts)

.PHONY: all deps build typecheck lint-sh test test-unit test-pipeline test-integration demo demo-down install uninstall bench bench-dashboard bench-shaped clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@rm -rf dist
	@npm run --silent build

typecheck: deps
	@npm run --silent typecheck

# The scripts web servers run (remote/): each as it is sent, common.sh and then the script
# (SC2317: a script uses only some of the shared functions).
lint-sh: deps
	@for f in remote/*.sh; do \
	  [ "$$f" = remote/common.sh ] && continue; \
	  cat remote/common.sh "$$f" | shellcheck -s sh -e SC2317 - || { echo "lint-sh: $$f (line numbers count remote/common.sh first)" >&2; exit 1; }; \
	done

# Every test: unit tests, pipeline tests over recorded hosts, then integration tests on loopback
# fleets they start and stop themselves.
test: build typecheck lint-sh
	node --import tsx --test --test-concurrency=2 --test-reporter=spec $(FAST_TEST_FILES)
	node --import tsx --test --test-reporter=spec $(INTEGRATION_TEST_FILES)

test-unit: deps
	node --import tsx --test --test-concurrency=2 --test-reporter=spec $(wildcard test/unit/*.test.ts)

# The flows (deploy, rollback, sync) over recorded hosts: the admin side real, no fleet.
test-pipeline: deps
	node --import tsx --test --test-reporter=spec $(wildcard test/pipeline/*.test.ts)

test-integration: build
	node --import tsx --test --test-reporter=spec $(INTEGRATION_TEST_FILES)

# A real deploy of apps/demo.ts to a 3-host loopback fleet, then what each host serves.
demo: build
	@SLIPWAY_DEMO_DIR=$(DEMO_DIR) bash demo/run.sh

demo-down:
	@FLEET_DIR=$(DEMO_DIR)/fleet FLEET_CLEAN=1 bash test/fleet/fleet.sh down
	@rm -rf $(DEMO_DIR)

# Install on an admin node, as root: Slipway's own files into PREFIX (a directory only Slipway
# uses, marked by .slipway-install; a non-empty PREFIX without it is refused), owned by root and
# writable by nobody else, and `deploy` in BINDIR as a symlink (a `deploy` there that is not
# Slipway's is never replaced). App files live in APPS_DIR, the installed Slipway's default apps
# directory, which is created when missing and otherwise left alone. The bash and zsh completion
# and the man page deploy(1) are symlinks into PREFIX like `deploy`, in BASHCOMPDIR, ZSHCOMPDIR and
# MANDIR/man1. `make uninstall` removes only Slipway's own files.
PREFIX ?= /opt/slipway
BINDIR ?= /usr/local/bin
APPS_DIR ?= /etc/slipway/apps
BASHCOMPDIR ?= /usr/share/bash-completion/completions
ZSHCOMPDIR ?= /usr/local/share/zsh/site-functions
MANDIR ?= /usr/local/share/man
INSTALL_DIRS = "$(PREFIX)" "$(BINDIR)" "$(APPS_DIR)" "$(BASHCOMPDIR)" "$(ZSHCOMPDIR)" "$(MANDIR)"
install: build
	@bash scripts/install.sh install $(INSTALL_DIRS)

uninstall:
	@bash scripts/install.sh uninstall $(INSTALL_DIRS)

# Slipway against plain parallel rsync over OpenSSH on a 20-host loopback fleet (then 50 and 100
# hosts), then the shaped network (bench-shaped, below); ~16 min, needs root. Not part of `make
# test`. BENCH_REPS, BENCH_SCALE: see bench/bench.ts; SHAPED_*: see bench/shaped.ts.
bench: build
	node --import tsx bench/bench.ts
	node --import tsx bench/shaped.ts

# The dashboard (`deploy serve`) on a synthetic feed of 150 app-envs (50 apps × 3 envs × 20
# hosts): the overview's server time (target < 100 ms), and a run page following a 100-host
# deploy's events as they are written. ~1 min, no root, no fleet; not part of `make test`.
# BENCH_OUT=<file> for the figures as JSON; other knobs: see bench/dashboard.ts.
bench-dashboard: deps
	node --import tsx bench/dashboard.ts

# Slipway's first deploy of the 44 MB synthetic app to 100, then 200 hosts in 4 datacenters,
# each host in its own network namespace and every link shaped with tc tbf (bandwidth only, no
# latency): admin uplink 1 Gbit/s, DC uplinks 10 Gbit/s, host links 1 Gbit/s
# (test/fleet/netfleet.sh); direct pulls against relays. Wall time, the admin node's egress
# bytes (total and per host), each DC uplink's bytes, admin CPU. Needs root; ~10 min; not part
# of `make test`. SHAPED_HOSTS, SHAPED_DCS, SHAPED_*_RATE, SHAPED_OUT=<file>: see bench/shaped.ts.
bench-shaped: build
	node --import tsx bench/shaped.ts

clean:
	rm -rf dist node_modules
