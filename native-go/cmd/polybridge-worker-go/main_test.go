package main

import (
	"bytes"
	"context"
	"encoding/binary"
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
		{"negative payload region", []string{"--payload-region-mib", "-1"}, 2, "--payload-region-mib must be 0 (no region) to 1024, got -1"},
		{"payload region over 1 GiB", []string{"--payload-region-mib", "1025"}, 2, "--payload-region-mib must be 0 (no region) to 1024"},
		{"zero max message", []string{"--max-message-mib", "0"}, 2, "--max-message-mib must be 1 to 1024, got 0"},
		{"max message over 1 GiB", []string{"--max-message-mib", "2048", "--payload-region-mib", "0"}, 2, "--max-message-mib must be 1 to 1024"},
		{"max message larger than the region", []string{"--max-message-mib", "128", "--payload-region-mib", "64"}, 2, "--max-message-mib 128 exceeds --payload-region-mib 64"},
		{"negative loan threshold", []string{"--payload-loan-threshold", "-1"}, 2, "--payload-loan-threshold must be 0 (never lend) or more bytes, got -1"},
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

func TestChecksumIsTheCRC32COfThePayloadAsALittleEndianUint64(t *testing.T) {
	for _, tc := range []struct {
		payload string
		want    uint64
	}{
		{"", 0},
		{"123456789", 0xE3069283}, // the CRC-32C check value
	} {
		got, err := Checksum.Handle(context.Background(), []byte(tc.payload))
		if err != nil || len(got) != 8 || binary.LittleEndian.Uint64(got) != tc.want {
			t.Errorf("checksum(%q) = %x, %v; want %016x", tc.payload, got, err, tc.want)
		}
	}
}
