# polybridge: the two commands of the README, and the steps they are made of.
#   make demo   the main job: fingerprint (Go) and signals (Rust) for every corpus page, one JSON line each
#   make test   Go, Rust and Java tests, including the real Java -> Go/Rust -> Java integration test
#               and, as root, the same across two network namespaces over Aeron UDP (UdpNamespaceTest)
# Each installs what it needs first (system packages, cmake, Go modules, crates, Maven artifacts).

SHELL := /bin/bash
MVN := mvn -B -ntp

.PHONY: demo test deps workers test-go test-rust test-java clean perf perf-smoke perf-deps

# Builds the workers and the Java modules, then runs `scan` of the command-line jar
# (cli/target/polybridge-cli.jar, see cli/README.md) over ../shared/corpus/html with an embedded
# driver and spawned workers. Other files or options are handed to scan as they are:
#   make demo SCAN_ARGS="--header 'Server: nginx' some/page.html"
SCAN_ARGS ?=
# stdout carries only the JSON lines (builds and logs go to stderr), so `make demo > scan.jsonl` works.
# The jar's manifest opens what Aeron needs (Add-Opens), so java -jar takes no flags.
demo:
	@$(MAKE) --no-print-directory workers 1>&2
	@$(MVN) -q install -DskipTests 1>&2
	@java -jar cli/target/polybridge-cli.jar scan $(SCAN_ARGS)

test: workers media-driver-jar wasm-modules test-go test-rust test-java hello test-consumers perf-smoke chaos-smoke

# System packages and cmake for the Rust worker's bundled Aeron C client; checks the toolchains.
deps:
	./native-rust/install-deps.sh
	@command -v go >/dev/null || { echo "Go 1.25+ is required (https://go.dev/dl)"; exit 1; }
	@command -v cargo >/dev/null || { echo "Rust (cargo) is required (rustup)"; exit 1; }
	@command -v mvn >/dev/null || { echo "Maven 3.8+ is required"; exit 1; }
	@java -version 2>&1 | grep -qE 'version "(1[7-9]|[2-9][0-9])' || { echo "Java 17+ is required"; exit 1; }
	@# iproute2 (ip netns) for UdpNamespaceTest, which runs as root and skips without it (docs/hosts.md).
	@command -v ip >/dev/null || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || \
		{ DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends iproute2; }

# CGO_ENABLED=0: static Go binaries that need no libc, so the copies shipped in the web-scan jar run anywhere.
# Rust: every binary of the Cargo workspace (root Cargo.toml) into native-rust/target/release:
# polybridge-worker-rust (the SDK's test worker), web-scan-worker-rust, hello-worker-rust.
workers: deps
	CGO_ENABLED=0 go build -o native-go/bin/polybridge-worker-go ./native-go/cmd/polybridge-worker-go
	cd examples/web-scan/go && CGO_ENABLED=0 go build -o bin/web-scan-worker-go ./cmd/web-scan-worker-go
	cd examples/web-scan/go && go build -o bin/fingerprint-reference ./cmd/fingerprint-reference
	cd examples/hello/go && CGO_ENABLED=0 go build -o bin/hello-worker-go .
	./native-rust/cargo.sh build --release --locked

# WebAssembly test modules (native-go/wasm, docs/wasm.md): installs wat2wasm (Debian's wabt) and
# Rust's wasm32-wasip1 target, builds the Go, Rust and WAT modules from source into
# native-go/bin/wasm-modules, then runs their echo test once without -race, which leaves their
# compiled code in native-go/bin/wasm-cache: under -race wazero's compiler is ~10x slower.
.PHONY: wasm-modules
wasm-modules:
	./native-go/wasm/install-deps.sh
	./native-go/wasm/build-modules.sh
	go test -count=1 -run '^TestEchoModules' ./native-go/wasm

# The standalone driver's jar (media-driver/target/*-all.jar): the Go and Rust tests that need a
# real media driver start it, and would skip without it, so it is built before them.
.PHONY: media-driver-jar
media-driver-jar:
	$(MVN) -q install -DskipTests -pl media-driver -am

# The root Go module (codecs/go and native-go; TestSDKDependsOnAeronAndTheTransportCodecsOnly
# proves `go list -deps ./native-go/worker` has no wappalyzergo), then the example modules.
test-go: media-driver-jar
	go vet ./... && go test -race ./... && ./native-go/fuzz.sh
	cd examples/web-scan/go && go vet ./... && go test ./...
	cd examples/hello/go && go vet ./... && go test -race ./...

# --release reuses the release build of the bundled Aeron C client instead of building it twice.
# The whole workspace (SDK, codecs, web-scan and hello crates; the SDK's tests include the check
# that `cargo tree -p polybridge-worker` has no html5ever), --locked against the root Cargo.lock.
test-rust: media-driver-jar
	./native-rust/cargo.sh test --release --locked --workspace
	./native-rust/cargo.sh clippy --workspace --all-targets --release --locked -- -D warnings

test-java:
	$(MVN) verify

# A user's projects outside this repository (issue 12): examples/consumer is copied to a temporary
# directory, built there against the installed artifacts and run with `java -jar` on corpus pages;
# examples/consumer-go and consumer-rust are built there on the SDKs and called from Java.
# The hello example (examples/hello/README.md): a Java main launches the hello Go and Rust workers
# with Bridge and calls hello.greet on each; exits 1 when an answer is wrong. Part of make test.
.PHONY: hello
hello: workers
	$(MVN) -q package -DskipTests -Dmaven.javadoc.skip=true -Dmaven.source.skip=true -pl examples/hello/java -am
	java -jar examples/hello/java/target/hello.jar

.PHONY: test-consumers
test-consumers:
	$(MVN) -q install -DskipTests
	./examples/consumer/run-outside.sh 3
	./examples/run-sdk-consumers.sh

clean:
	$(MVN) -q clean
	rm -rf native-go/bin native-rust/target

# perf/: the UDS + protobuf baseline's tools (protoc, protoc-gen-go) and Go binaries.
perf-deps:
	./perf/install-deps.sh
	./perf/build.sh

# Proves every benchmark still starts and completes one short iteration (seconds); part of make test.
perf-smoke: workers perf-deps
	$(MVN) -q package -DskipTests -pl perf -am
	./perf/run.sh smoke

# The benchmark suite and its report in perf/results/: PERF_MODE=quick (~6 min, default) or full.
PERF_MODE ?= quick
perf: workers perf-deps
	./perf/install-deps.sh --report
	$(MVN) -q package -DskipTests -pl perf -am
	./perf/run.sh $(PERF_MODE)

# The chaos harness (chaos/README.md): a standalone driver, a bridge host JVM with 2 Go + 2 Rust
# workers under load, a neighbour client JVM, and faults from a printed seed (worker SIGKILL and
# SIGSTOP, driver SIGKILL and restart, client JVM SIGKILL/SIGTERM, hostile frames). One summary line,
# a JSON report in chaos/target/, exit status 1 if a call was lost or duplicated, a bridge JVM
# exited, a process or /dev/shm entry was left, or callers stalled over 1 s.
#   make chaos                                      180 s of chaos (~4 minutes in all)
#   make chaos CHAOS_ARGS="--seed 42 --duration-s 600"
#   make chaos-smoke                                25 s of chaos, under a minute in all
CHAOS_ARGS ?=
.PHONY: chaos chaos-smoke
CHAOS_BUILD := $(MVN) -q package -DskipTests -Dmaven.javadoc.skip=true -Dmaven.source.skip=true -pl chaos -am
chaos: workers
	$(CHAOS_BUILD)
	java -Dpolybridge.root=$(CURDIR) -jar chaos/target/chaos.jar --mode full $(CHAOS_ARGS)

# Part of make test: 25 s of every kind of fault, under a minute in all.
chaos-smoke: workers
	$(CHAOS_BUILD)
	java -Dpolybridge.root=$(CURDIR) -jar chaos/target/chaos.jar --mode smoke $(CHAOS_ARGS)
