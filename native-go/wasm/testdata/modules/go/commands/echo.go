package main

import (
	"bytes"
	"io"
	"os"
)

// echoMain is a WASI command module (ABI "command", docs/wasm.md): it upper-cases the
// payload read from stdin and writes it to stdout. Handler: wasm.go_echo.
func echoMain() {
	payload, err := io.ReadAll(os.Stdin)
	if err != nil {
		os.Stderr.WriteString("reading stdin: " + err.Error())
		os.Exit(1)
	}
	os.Stdout.Write(bytes.ToUpper(payload))
}
