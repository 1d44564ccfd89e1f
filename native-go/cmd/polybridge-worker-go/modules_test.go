package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWebAssemblyOptionsAreCheckedBeforeConnecting(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"modules directory missing", []string{"--modules", filepath.Join(t.TempDir(), "nope")}, "--modules"},
		{"modules is a file", []string{"--modules", file}, "is not a directory"},
		{"zero memory limit", []string{"--wasm-memory-limit", "0"}, "--wasm-memory-limit must be 1 to 4096 MiB"},
		{"memory limit past wasm32", []string{"--wasm-memory-limit", "4097"}, "--wasm-memory-limit must be 1 to 4096 MiB"},
		{"cache that cannot be a directory", []string{"--modules", t.TempDir(), "--wasm-cache", filepath.Join(file, "sub")}, "compilation cache"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			status := run(append([]string{"--aeron-dir", fakeDriverDir(t)}, tc.args...), &stderr)
			if status != 2 || !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", status, stderr.String(), tc.stderr)
			}
		})
	}
}
