// Command polybridge-consumer-go is a worker built outside the polybridge repository on its Go SDK
// (github.com/polybridge/polybridge/native-go/worker). It serves one handler, consumer.upper: the
// payload in upper case. worker.Main gives it the command line Bridge passes (--aeron-dir,
// --parent-pid, ...), logging, signals and the drain.
package main

import (
	"bytes"
	"context"

	"github.com/polybridge/polybridge/native-go/worker"
)

func main() {
	worker.Main(worker.App{
		Name: "polybridge-consumer-go",
		Start: func(_ context.Context, env *worker.Env) (func(), error) {
			upper := worker.HandlerFunc(func(_ context.Context, payload []byte) ([]byte, error) {
				return bytes.ToUpper(payload), nil
			})
			return nil, env.Registry.Register("consumer.upper", upper)
		},
	})
}
