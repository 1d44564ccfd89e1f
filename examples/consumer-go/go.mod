module example.com/polybridge-consumer-go

go 1.25.0

// The polybridge Go SDK (github.com/polybridge/polybridge/native-go/worker) comes from this
// checkout through a go.work workspace that run-sdk-consumers.sh writes next to this file: no
// require and no replace here. A `require` of native-go cannot be satisfied outside that
// workspace today (the module path is not published, and native-go itself replaces
// codecs/go with a zero pseudo-version); see README.md.
