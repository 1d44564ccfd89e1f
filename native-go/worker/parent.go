package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"time"
)

// parentCheckInterval is how often Config.ParentPID is checked: the worker exits within about
// this long (plus one duty cycle and the client's close) after its parent dies, well within the
// 1 s the lifecycle promises.
const parentCheckInterval = 200 * time.Millisecond

// ErrParentGone is what the error Run returns when Config.ParentPID's process has gone Is
// (errors.Is).
var ErrParentGone = errors.New("parent process is gone")

// parentGoneError says which parent went, and how it was noticed.
type parentGoneError struct {
	pid    int
	detail string // "", or how it was noticed, e.g. "its pid belongs to another process now"
}

func (e *parentGoneError) Error() string {
	if e.detail == "" {
		return fmt.Sprintf("parent process %d is gone", e.pid)
	}
	return fmt.Sprintf("parent process %d is gone (%s)", e.pid, e.detail)
}

func (e *parentGoneError) Is(target error) bool { return target == ErrParentGone }

// processIdentity names one process across pid reuse: a pid and the start time the kernel
// gave the process that had it (field 22 of /proc/PID/stat, in clock ticks since boot).
type processIdentity struct {
	pid       int
	startTime uint64
}

// identifyProcess reads pid's identity now; an error if there is no such process (or it is a
// zombie: dead, not yet reaped) or /proc cannot tell.
func identifyProcess(pid int) (processIdentity, error) {
	state, start, err := readProcStat(pid)
	switch {
	case err != nil:
		return processIdentity{}, err
	case state == 'Z' || state == 'X':
		return processIdentity{}, fmt.Errorf("process %d has exited (state %c)", pid, state)
	}
	return processIdentity{pid: pid, startTime: start}, nil
}

// gone returns an error wrapping ErrParentGone once the process is no longer there: no such
// pid, a zombie, or its pid now belongs to a process started later. An error reading /proc
// other than "no such file" is not taken for death.
func (p processIdentity) gone() error {
	state, start, err := readProcStat(p.pid)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &parentGoneError{pid: p.pid}
	case err != nil:
		return nil
	case start != p.startTime:
		return &parentGoneError{pid: p.pid, detail: "its pid belongs to another process now"}
	case state == 'Z' || state == 'X':
		return &parentGoneError{pid: p.pid, detail: "exited, not yet reaped"}
	}
	return nil
}

// watch checks the process every interval until ctx ends, and calls onGone once if it goes.
func (p processIdentity) watch(ctx context.Context, interval time.Duration, onGone func(error)) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if err := p.gone(); err != nil {
				onGone(err)
				return
			}
		}
	}
}

// readProcStat returns the state (field 3) and start time (field 22) of /proc/PID/stat.
func readProcStat(pid int) (state byte, startTime uint64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// Field 2, the command name, is in parentheses and may itself hold spaces and ')':
	// the fields after it start after the last ')'.
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := bytes.Fields(b[end+1:])
	const stateField, startTimeField = 3, 22 // 1-based, as in proc(5)
	if len(fields) < startTimeField-2 || len(fields[0]) != 1 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %d fields after the command name", pid, len(fields))
	}
	startTime, err = strconv.ParseUint(string(fields[startTimeField-3]), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("/proc/%d/stat: start time: %w", pid, err)
	}
	return fields[stateField-3][0], startTime, nil
}
