package main

import (
	"fmt"
	"os"
)

// envMain writes what a command module can see of the world: its arguments and its whole
// environment, one per line, so tests can check that it is exactly what docs/wasm.md
// promises. Handler: wasm.go_env.
func envMain() {
	for _, a := range os.Args {
		fmt.Printf("arg %s\n", a)
	}
	for _, e := range os.Environ() {
		fmt.Printf("env %s\n", e)
	}
}
