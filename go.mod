// One module for the transport codecs (codecs/go/polybridge) and the Go SDK (native-go/...),
// so another module requires github.com/polybridge/polybridge with no replace of ours. Nested
// modules (examples/*, perf/uds-baseline, native-go/wasm/testdata/modules/go) keep their own
// go.mod and are not part of it.
module github.com/polybridge/polybridge

go 1.25.0

require (
	github.com/lirm/aeron-go v0.0.0-20240606170339-8b05ad14e456
	github.com/tetratelabs/wazero v1.12.0
	go.uber.org/zap v1.26.0
)

require (
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/edsrzf/mmap-go v1.1.0 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	github.com/stretchr/objx v0.5.2 // indirect
	github.com/stretchr/testify v1.11.1 // indirect
	go.uber.org/multierr v1.11.0 // indirect
	golang.org/x/sys v0.44.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
