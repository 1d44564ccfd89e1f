package worker

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeDriverDir passes Config.Conclude's check that a driver directory holds a cnc.dat.
func fakeDriverDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cnc.dat"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Every case stops before connecting to a driver: the command line is checked first.
func TestRunChecksTheCommandLineBeforeConnecting(t *testing.T) {
	var appFlag string
	var sawEcho bool
	app := App{
		Name:  "test-worker",
		About: "A worker for this test.",
		Flags: func(fs *flag.FlagSet) { fs.StringVar(&appFlag, "mode", "ok", "what Start does: ok, usage, fail") },
		Start: func(_ context.Context, env *Env) (func(), error) {
			_, sawEcho = env.Registry.Lookup([]byte(EchoName))
			switch appFlag {
			case "usage":
				return nil, UsageError("--mode usage is not allowed")
			case "fail":
				return nil, errors.New("the app could not start")
			}
			return nil, nil
		},
	}
	driver := fakeDriverDir(t)
	for _, tc := range []struct {
		name   string
		args   []string
		status int
		stderr string
	}{
		{"--help prints the common and the app's flags", []string{"--help"}, 0, "A worker for this test."},
		{"--help lists the app's flags", []string{"-h"}, 0, "-mode"},
		{"--aeron-dir is required", nil, 2, "--aeron-dir is required"},
		{"an unknown flag", []string{"--aeron-dir", driver, "--nope"}, 2, "flag provided but not defined: -nope"},
		{"an extra argument", []string{"--aeron-dir", driver, "extra"}, 2, `unexpected argument "extra"`},
		{"a common flag out of range", []string{"--aeron-dir", driver, "--pool-size", "0"}, 2, "--pool-size must be at least 1"},
		{"an unknown idle strategy", []string{"--aeron-dir", driver, "--idle", "nap"}, 2, "--idle"},
		{"an app flag the app rejects", []string{"--aeron-dir", driver, "--mode", "usage"}, 2, "test-worker: --mode usage is not allowed"},
		{"an app that fails to start", []string{"--aeron-dir", driver, "--mode", "fail"}, 1, "test-worker: the app could not start"},
		{"a directory without a driver", []string{"--aeron-dir", t.TempDir()}, 2, "no media driver in"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			status := Run(app, tc.args, &stderr)
			if status != tc.status || !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", status, stderr.String(), tc.status, tc.stderr)
			}
		})
	}
	if !sawEcho {
		t.Error("App.Start ran without echo in the registry")
	}
}
