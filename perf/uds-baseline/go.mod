module github.com/polybridge/polybridge/perf/uds-baseline

go 1.25.0

require (
	github.com/polybridge/polybridge v0.0.0-00010101000000-000000000000
	github.com/polybridge/polybridge/examples/web-scan/go v0.0.0-00010101000000-000000000000
	google.golang.org/protobuf v1.36.11
)

require (
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/edsrzf/mmap-go v1.1.0 // indirect
	github.com/lirm/aeron-go v0.0.0-20240606170339-8b05ad14e456 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	github.com/projectdiscovery/wappalyzergo v0.2.82 // indirect
	github.com/stretchr/objx v0.5.2 // indirect
	github.com/stretchr/testify v1.11.1 // indirect
	go.uber.org/multierr v1.11.0 // indirect
	go.uber.org/zap v1.26.0 // indirect
	golang.org/x/net v0.54.0 // indirect
	golang.org/x/sys v0.44.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)

// The handlers are the repository's own: the SDK (root module) and the web-scan app's
// fingerprint method (its own module, which replaces the root the same way).
replace (
	github.com/polybridge/polybridge => ../..
	github.com/polybridge/polybridge/examples/web-scan/go => ../../examples/web-scan/go
)
