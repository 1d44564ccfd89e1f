// Command hello-worker-go serves the hello example's one typed method, hello.greet (Greet in,
// Greeting out, ../schema/hello.xml), on the polybridge Go SDK: worker.Main gives it the command
// line Bridge passes, logging, signals and the drain; worker.RegisterTyped checks every payload,
// so the handler only reads and writes fields through the generated codecs in ./hello.
package main

import (
	"context"

	"github.com/polybridge/polybridge/examples/hello/go/hello"
	"github.com/polybridge/polybridge/native-go/worker"
)

// Method is the handler name callers use.
const Method = "hello.greet"

// greet answers Greet{name} with Greeting{"Hello, <name>, from Go!"}.
func greet(_ context.Context, req *hello.Greet) (func(*hello.Greeting), error) {
	name := req.Name()
	if name == "" {
		return nil, worker.BadRequest("greet needs a name")
	}
	return func(resp *hello.Greeting) {
		resp.PutText("Hello, " + name + ", from Go!")
	}, nil
}

func main() {
	worker.Main(worker.App{
		Name:  "hello-worker-go",
		About: "The hello example's Go worker: " + Method + ".",
		Start: func(_ context.Context, env *worker.Env) (func(), error) {
			return nil, worker.RegisterTyped[hello.Greet, hello.Greeting](env.Registry, Method, greet)
		},
	})
}
