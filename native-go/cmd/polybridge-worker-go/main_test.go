package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fakeDriverDir passes the worker's check that a driver directory holds a cnc.dat.
func fakeDriverDir(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cnc.dat"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCommandLine(t *testing.T) {
	// A pid above the kernel's pid_max never belongs to a process.
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Skip(err)
	}
	pidMax, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	gone := strconv.Itoa(pidMax + 1)
	for _, tc := range []struct {
		name   string
		args   []string
		status int
		stderr string
	}{
		{"parent already gone: exit 1 naming it", []string{"--parent-pid", gone}, 1, "parent process " + gone + " is gone"},
		{"negative parent pid", []string{"--parent-pid", "-3"}, 2, "--parent-pid"},
		{"zero reply queue", []string{"--reply-queue", "0"}, 2, "--reply-queue"},
		{"zero reply timeout", []string{"--reply-timeout", "0s"}, 2, "--reply-timeout"},
		{"zero max reply streams", []string{"--max-reply-streams", "0"}, 2, "--max-reply-streams"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			status := run(append([]string{"--aeron-dir", fakeDriverDir(t)}, tc.args...), &stderr)
			if status != tc.status || !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", status, stderr.String(), tc.status, tc.stderr)
			}
		})
	}
}
