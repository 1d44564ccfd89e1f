package main

import (
	"fmt"
	"os"
)

// openfileMain tries to reach outside its sandbox: read a file, list the root, create a
// file. Each must fail; it reports what happened on stderr and exits 1 if all were denied,
// 0 (printing what it got) if any succeeded. Handler: wasm.go_openfile.
func openfileMain() {
	escaped := false
	if b, err := os.ReadFile("/etc/passwd"); err == nil {
		fmt.Printf("read /etc/passwd: %d bytes\n", len(b))
		escaped = true
	} else {
		fmt.Fprintf(os.Stderr, "denied: %v\n", err)
	}
	if entries, err := os.ReadDir("/"); err == nil {
		fmt.Printf("listed /: %d entries\n", len(entries))
		escaped = true
	} else {
		fmt.Fprintf(os.Stderr, "denied: %v\n", err)
	}
	if f, err := os.Create("/tmp/polybridge-wasm-escape"); err == nil {
		fmt.Println("created /tmp/polybridge-wasm-escape")
		f.Close()
		escaped = true
	} else {
		fmt.Fprintf(os.Stderr, "denied: %v\n", err)
	}
	if !escaped {
		os.Exit(1)
	}
}
