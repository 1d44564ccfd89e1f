package main

import "fmt"

// hogMain allocates memory in 1 MiB blocks, touching each, until the host refuses to grow
// its linear memory; the Go runtime then dies with "out of memory". Handler: wasm.go_hog.
func hogMain() {
	var blocks [][]byte
	for i := 0; ; i++ {
		b := make([]byte, 1<<20)
		for j := range b {
			b[j] = byte(i + j)
		}
		blocks = append(blocks, b)
		if i%1024 == 1023 {
			fmt.Printf("%d MiB and counting\n", i+1)
		}
	}
}
