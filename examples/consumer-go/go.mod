module example.com/polybridge-consumer-go

go 1.25.0

// The polybridge Go SDK: one module at the repository root. Until a version is published, point
// it at a checkout with one replace (run-sdk-consumers.sh adds it to its copy of this file):
//   go mod edit -replace github.com/polybridge/polybridge=/path/to/polybridge
require github.com/polybridge/polybridge v0.0.0-00010101000000-000000000000

require (
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/edsrzf/mmap-go v1.1.0 // indirect
	github.com/lirm/aeron-go v0.0.0-20240606170339-8b05ad14e456 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	github.com/stretchr/objx v0.5.2 // indirect
	github.com/stretchr/testify v1.11.1 // indirect
	go.uber.org/multierr v1.11.0 // indirect
	go.uber.org/zap v1.26.0 // indirect
	golang.org/x/sys v0.44.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
