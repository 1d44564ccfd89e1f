# polybridge: the two commands of the README, and the steps they are made of.
#   make demo   start an embedded media driver and both workers, print round trips and latency
#   make test   Go, Rust and Java tests, including the real Java -> Go/Rust -> Java integration test
# Each installs what it needs first (system packages, cmake, Go modules, crates, Maven artifacts).

SHELL := /bin/bash
MVN := mvn -B -ntp

.PHONY: demo test deps workers test-go test-rust test-java clean

demo: workers
	$(MVN) -q install -DskipTests
	$(MVN) -q -pl java-client exec:exec@demo

test: workers test-go test-rust test-java

# System packages and cmake for the Rust worker's bundled Aeron C client; checks the toolchains.
deps:
	./native-rust/install-deps.sh
	@command -v go >/dev/null || { echo "Go 1.25+ is required (https://go.dev/dl)"; exit 1; }
	@command -v cargo >/dev/null || { echo "Rust (cargo) is required (rustup)"; exit 1; }
	@command -v mvn >/dev/null || { echo "Maven 3.8+ is required"; exit 1; }
	@java -version 2>&1 | grep -qE 'version "(1[7-9]|[2-9][0-9])' || { echo "Java 17+ is required"; exit 1; }

workers: deps
	cd native-go && go build -o bin/polybridge-worker-go ./cmd/polybridge-worker-go
	./native-rust/cargo.sh build --release --locked --bin polybridge-worker-rust

test-go:
	cd native-go && go vet ./... && go test -race ./... && ./fuzz.sh

# --release reuses the release build of the bundled Aeron C client instead of building it twice.
test-rust:
	./native-rust/cargo.sh test --release --locked
	./native-rust/cargo.sh clippy --all-targets --release --locked -- -D warnings

test-java:
	$(MVN) verify

clean:
	$(MVN) -q clean
	rm -rf native-go/bin native-rust/target
