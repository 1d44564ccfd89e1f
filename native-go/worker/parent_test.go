package worker

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startSleeper starts a child process that lives until killed; the test kills it at the end.
func startSleeper(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

func TestParentIsGone(t *testing.T) {
	for _, tc := range []struct {
		name     string
		identity func(t *testing.T) processIdentity // of a process that started alive
		end      func(t *testing.T, cmd *exec.Cmd)  // what happens to it then
		want     string                             // "" if it is still there
	}{
		{name: "alive: not gone", want: ""},
		{name: "exited and reaped: gone",
			end:  func(t *testing.T, cmd *exec.Cmd) { _ = cmd.Process.Kill(); _ = cmd.Wait() },
			want: "is gone"},
		{name: "killed, not yet reaped (a zombie): gone",
			end: func(t *testing.T, cmd *exec.Cmd) {
				_ = cmd.Process.Signal(syscall.SIGKILL)
				waitFor(t, 5*time.Second, func() bool { s, _, err := readProcStat(cmd.Process.Pid); return err == nil && s == 'Z' })
			},
			want: "exited, not yet reaped"},
		{name: "its pid now belongs to a process started later: gone",
			identity: func(t *testing.T) processIdentity {
				id, err := identifyProcess(os.Getpid())
				if err != nil {
					t.Fatal(err)
				}
				id.startTime-- // as if the pid had been someone else's, who started earlier
				return id
			},
			want: "belongs to another process"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := startSleeper(t)
			var id processIdentity
			if tc.identity != nil {
				id = tc.identity(t)
			} else {
				var err error
				if id, err = identifyProcess(cmd.Process.Pid); err != nil {
					t.Fatal(err)
				}
			}
			if tc.end != nil {
				tc.end(t, cmd)
			}
			err := id.gone()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("gone() = %v for a live process", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrParentGone)):
				t.Fatalf("gone() = %v, want an ErrParentGone saying %q", err, tc.want)
			}
		})
	}
}

func TestIdentifyProcessRefusesADeadPid(t *testing.T) {
	cmd := startSleeper(t)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if _, err := identifyProcess(cmd.Process.Pid); err == nil {
		t.Fatal("identifyProcess succeeded for a process that has exited")
	}
}

func TestReadProcStatCopesWithAwkwardCommandNames(t *testing.T) {
	// A command name may hold spaces and parentheses; the fields after it are what count.
	dir := t.TempDir()
	exe := dir + "/a b) (c"
	if err := os.Symlink("/bin/sleep", exe); err != nil {
		t.Skip(err)
	}
	cmd := exec.Command(exe, "600")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start %q: %v", exe, err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	id, err := identifyProcess(cmd.Process.Pid)
	if err != nil || id.startTime == 0 {
		t.Fatalf("identifyProcess = %+v, %v", id, err)
	}
	if err := id.gone(); err != nil {
		t.Fatalf("gone() = %v for a live process", err)
	}
}

func TestWatchReportsAParentThatDiesWithinOneSecond(t *testing.T) {
	cmd := startSleeper(t)
	id, err := identifyProcess(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	gone := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go id.watch(ctx, parentCheckInterval, func(err error) { gone <- err })
	killed := time.Now()
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	select {
	case err := <-gone:
		if !errors.Is(err, ErrParentGone) {
			t.Fatalf("watch reported %v", err)
		}
		t.Logf("noticed %v after the kill", time.Since(killed))
	case <-time.After(5 * time.Second): // the promise is 1 s; a loaded machine gets margin
		t.Fatal("watch did not notice the parent's death")
	}
}

func waitFor(t *testing.T, limit time.Duration, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v", limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
