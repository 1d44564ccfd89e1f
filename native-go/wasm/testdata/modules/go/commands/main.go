// Command commands is the Go test modules of the command ABI (docs/wasm.md) in one binary,
// which build-modules.sh installs under each module's name: go_echo.wasm, go_stats.wasm, ...
// Like busybox it acts by the name it is called as (POLYBRIDGE_HANDLER, wasm.go_NAME). One
// binary rather than six because compiling a Go module to native code takes the host seconds,
// and identical files are compiled once (the compilation cache is keyed by content).
package main

import (
	"fmt"
	"os"
	"strings"
)

var commands = map[string]func(){
	"echo":     echoMain,
	"stats":    statsMain,
	"env":      envMain,
	"openfile": openfileMain,
	"hog":      hogMain,
	"sleep":    sleepMain,
}

func main() {
	name := strings.TrimPrefix(os.Getenv("POLYBRIDGE_HANDLER"), "wasm.go_")
	run, ok := commands[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "no Go test command named %q (POLYBRIDGE_HANDLER=%q)", name, os.Getenv("POLYBRIDGE_HANDLER"))
		os.Exit(1)
	}
	run()
}
