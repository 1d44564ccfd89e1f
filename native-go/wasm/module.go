package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polybridge/polybridge/native-go/worker"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// Environment variables a module sees; nothing else of the worker's environment reaches it.
const (
	EnvHandler       = "POLYBRIDGE_HANDLER"          // the handler name, wasm.NAME (both ABIs)
	EnvABI           = "POLYBRIDGE_ABI"              // "command" or "reactor" (both ABIs)
	EnvCorrelationID = "POLYBRIDGE_CORRELATION_ID"   // the caller's correlation id (command, per call)
	EnvDeadline      = "POLYBRIDGE_DEADLINE_UNIX_NS" // the call's deadline, Unix ns (command, per call, if it has one)
)

// Reply flags in the low word of pb_handle's result, above a 30-bit length.
const (
	replyLengthMask = 1<<30 - 1
	flagBadRequest  = 1 << 30 // with flagError: the caller's fault, BAD_REQUEST
	flagError       = 1 << 31 // the reply bytes are an error message: HANDLER_ERROR
)

// ExitBadRequest is the exit status (sysexits' EX_DATAERR) with which a command module says
// its payload is invalid: the call is answered BAD_REQUEST with the end of its stderr.
const ExitBadRequest = 65

// How much of a module's stderr an error message carries: its first and last bytes.
const (
	stderrHead = 512
	stderrTail = 1536
)

// Module is one loaded version of a module, serving as a worker.Handler. Requests that reach
// it after it was retired still run on it while it is open; once its last call has ended it
// is closed, and a late request goes to the version that replaced it (or fails if none did).
type Module struct {
	host        *Host
	name        string
	abi         ABI
	compiled    wazero.CompiledModule
	config      wazero.ModuleConfig
	sha256      [32]byte
	CompileTime time.Duration // how long Load took to compile and check it

	idle chan *instance // reactor instances ready for a call

	mu        sync.Mutex
	active    int  // calls running
	retired   bool // no longer served: close when active drops to 0
	closed    bool
	successor atomic.Pointer[Module]
}

// Name returns the handler name the module serves as.
func (m *Module) Name() string { return m.name }

// ABI returns the ABI the module speaks.
func (m *Module) ABI() ABI { return m.abi }

// Retire takes the module out of service: it is closed once the calls running on it end.
// successor, if not nil, serves the requests that still arrive for it.
func (m *Module) Retire(ctx context.Context, successor *Module) {
	if successor != nil {
		m.successor.Store(successor)
	}
	m.mu.Lock()
	m.retired = true
	closeNow := m.active == 0 && !m.closed
	if closeNow {
		m.closed = true
	}
	m.mu.Unlock()
	if closeNow {
		m.close(ctx)
	}
}

func (m *Module) acquire() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	m.active++
	return true
}

func (m *Module) release() {
	m.mu.Lock()
	m.active--
	closeNow := m.retired && m.active == 0 && !m.closed
	if closeNow {
		m.closed = true
	}
	m.mu.Unlock()
	if closeNow {
		m.close(context.Background())
	}
}

func (m *Module) close(ctx context.Context) {
	for {
		select {
		case inst := <-m.idle:
			inst.close(ctx)
		default:
			_ = m.compiled.Close(ctx)
			return
		}
	}
}

// Handle runs the module on payload; see docs/wasm.md for how outcomes map to error codes.
// A trap panics (the worker answers PANIC), the deadline or a Cancel stops the guest where it
// is (TIMEOUT, CANCELLED), a refused memory grow, a non-zero exit status or a reply flagged as
// an error is an error (HANDLER_ERROR; BAD_REQUEST for exit status 65 or the reactor's flag).
func (m *Module) Handle(ctx context.Context, payload []byte) ([]byte, error) {
	if !m.acquire() {
		if next := m.successor.Load(); next != nil {
			return next.Handle(ctx, payload)
		}
		return nil, fmt.Errorf("module %s was removed while the request waited", m.name)
	}
	var (
		reply []byte
		err   error
		trap  *Trap
	)
	func() {
		defer m.release()
		if m.abi == Command {
			reply, err, trap = m.runCommand(ctx, payload)
		} else {
			reply, err, trap = m.runReactor(ctx, payload)
		}
	}()
	if trap != nil {
		panic(trap) // the worker answers PANIC with trap.Error(), and keeps serving
	}
	return reply, err
}

// Trap is the panic value of a module that trapped (unreachable, an out-of-bounds access, a
// division by zero, a Rust panic): the worker answers PANIC with its message.
type Trap struct {
	Module string
	Cause  error  // wazero's error: the trap and the guest's stack
	Stderr string // the end of what the module wrote to stderr
}

func (t *Trap) Error() string {
	msg := fmt.Sprintf("module %s trapped: %v", t.Module, t.Cause)
	if t.Stderr != "" {
		msg += "; stderr: " + t.Stderr
	}
	return msg
}

func (t *Trap) Unwrap() error { return t.Cause }

// MemoryLimitError says a module asked for more memory than the host's limit.
type MemoryLimitError struct {
	Module string
	Limit  uint64 // bytes
	Asked  uint64 // the size of the grow the host refused, in bytes
	Detail string // what the module did next (its trap, exit status or stderr), if anything
}

func (e *MemoryLimitError) Error() string {
	msg := fmt.Sprintf("module %s exceeded its memory limit of %s (it asked to grow its memory to %s; --wasm-memory-limit)",
		e.Module, mib(e.Limit), mib(e.Asked))
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// outcome classifies what a failed call did, in order of precedence: the context ended (the
// guest was stopped for it), memory refused (whatever the guest did about it), an exit status,
// a trap.
func (m *Module) outcome(ctx context.Context, err error, mem *limitedMemory, stderr *outputCapture) (error, *Trap) {
	if ctxErr := ctx.Err(); ctxErr != nil {
		// Wrapping ctx.Err() lets the worker answer by the context's cause: TIMEOUT for the
		// deadline, CANCELLED for a Cancel, WORKER_UNAVAILABLE at shutdown.
		return fmt.Errorf("module %s stopped: %w", m.name, ctxErr), nil
	}
	var exit *sys.ExitError
	isExit := errors.As(err, &exit)
	if asked := mem.refused(); asked > 0 {
		detail := stderr.String()
		if isExit {
			detail = fmt.Sprintf("exit status %d; stderr: %s", exit.ExitCode(), detail)
		} else if detail == "" {
			detail = err.Error()
		}
		return &MemoryLimitError{Module: m.name, Limit: m.host.cfg.MemoryLimit, Asked: asked, Detail: detail}, nil
	}
	if isExit {
		switch code := exit.ExitCode(); code {
		case ExitBadRequest:
			return worker.BadRequest("module %s rejected its payload (exit status %d): %s", m.name, code, stderr.String()), nil
		default:
			return fmt.Errorf("module %s exited with status %d: %s", m.name, code, stderr.String()), nil
		}
	}
	return nil, &Trap{Module: m.name, Cause: err, Stderr: stderr.String()}
}

// runCommand runs a command module in a fresh instance: payload on stdin, reply from stdout.
func (m *Module) runCommand(ctx context.Context, payload []byte) ([]byte, error, *Trap) {
	mem := newLimitedMemory(m.host.cfg.MemoryLimit)
	stdout := &cappedBuffer{limit: int(min(m.host.cfg.MemoryLimit, 1<<30))}
	stderr := newOutputCapture(stderrHead, stderrTail)
	config := m.config.
		WithStdin(bytes.NewReader(payload)).
		WithStdout(stdout).
		WithStderr(stderr).
		WithNanosleep(sleeper{ctx}.sleep)
	if info, ok := worker.RequestInfoFrom(ctx); ok {
		config = config.WithEnv(EnvCorrelationID, strconv.FormatInt(info.CorrelationID, 10))
	}
	if deadline, ok := ctx.Deadline(); ok {
		config = config.WithEnv(EnvDeadline, strconv.FormatInt(deadline.UnixNano(), 10))
	}
	mod, err := m.host.runtime.InstantiateModule(mem.attach(ctx), m.compiled, config)
	if mod != nil {
		defer mod.Close(context.Background())
	}
	if stdout.overflow && ctx.Err() == nil && mem.refused() == 0 {
		// Whatever the module did after its write failed, this is why.
		return nil, fmt.Errorf("module %s wrote more than %s to stdout", m.name, mib(uint64(stdout.limit))), nil
	}
	if err == nil && ctx.Err() == nil {
		return stdout.buf.Bytes(), nil, nil
	}
	if err == nil {
		err = ctx.Err()
	}
	failure, trap := m.outcome(ctx, err, mem, stderr)
	return nil, failure, trap
}

// instance is a reactor instance; it serves one call at a time.
type instance struct {
	mod    api.Module
	memory api.Memory
	alloc  api.Function
	handle api.Function
	stack  [2]uint64
	mem    *limitedMemory
	stderr *outputCapture // stdout and stderr both, reset per call
	sleep  *sleeper       // carries the running call's context to WASI's clock waits
}

func (m *Module) newInstance(ctx context.Context) (*instance, error) {
	inst := &instance{
		mem:    newLimitedMemory(m.host.cfg.MemoryLimit),
		stderr: newOutputCapture(stderrHead, stderrTail),
		sleep:  &sleeper{ctx: ctx},
	}
	config := m.config.WithStdout(inst.stderr).WithStderr(inst.stderr).WithNanosleep(inst.sleep.sleepCurrent)
	mod, err := m.host.runtime.InstantiateModule(inst.mem.attach(ctx), m.compiled, config)
	if err != nil {
		failure, trap := m.outcome(ctx, err, inst.mem, inst.stderr)
		if trap != nil {
			failure = trap
		}
		return nil, fmt.Errorf("instantiate: %w", failure)
	}
	inst.mod = mod
	inst.memory = mod.Memory()
	inst.alloc = mod.ExportedFunction(ExportAlloc)
	inst.handle = mod.ExportedFunction(ExportHandle)
	return inst, nil
}

func (inst *instance) close(ctx context.Context) {
	_ = inst.mod.Close(ctx)
}

// runReactor runs a reactor call on a pooled instance; an instance that failed in any way is
// closed rather than reused, since its state is unknown.
func (m *Module) runReactor(ctx context.Context, payload []byte) ([]byte, error, *Trap) {
	var inst *instance
	select {
	case inst = <-m.idle:
	default:
		var err error
		if inst, err = m.newInstance(ctx); err != nil {
			return nil, fmt.Errorf("module %s: %w", m.name, err), nil
		}
	}
	reply, err, trap, reusable := m.callReactor(ctx, inst, payload)
	if reusable {
		select {
		case m.idle <- inst:
			return reply, err, trap
		default:
		}
	}
	inst.close(context.Background())
	return reply, err, trap
}

func (m *Module) callReactor(ctx context.Context, inst *instance, payload []byte) (reply []byte, err error, trap *Trap, reusable bool) {
	if uint64(len(payload)) > replyLengthMask {
		return nil, worker.BadRequest("payload of %d bytes is too large for a reactor module", len(payload)), nil, true
	}
	inst.stderr.Reset()
	inst.sleep.ctx = ctx
	defer func() { inst.sleep.ctx = context.Background() }()
	failed := func(err error) ([]byte, error, *Trap, bool) {
		failure, trap := m.outcome(ctx, err, inst.mem, inst.stderr)
		return nil, failure, trap, false
	}
	stack := inst.stack[:]
	stack[0] = uint64(len(payload))
	if err := inst.alloc.CallWithStack(ctx, stack); err != nil {
		return failed(err)
	}
	at := uint32(stack[0])
	if !inst.memory.Write(at, payload) {
		return nil, fmt.Errorf("module %s: %s(%d) returned %d, which is not room for the payload in its %s of memory",
			m.name, ExportAlloc, len(payload), at, mib(uint64(inst.memory.Size()))), nil, false
	}
	stack[0], stack[1] = uint64(at), uint64(len(payload))
	if err := inst.handle.CallWithStack(ctx, stack); err != nil {
		return failed(err)
	}
	if ctx.Err() != nil { // returned just as the deadline passed: answer by the deadline
		return failed(ctx.Err())
	}
	result := stack[0]
	ptr, low := uint32(result>>32), uint32(result)
	length := low & replyLengthMask
	view, ok := inst.memory.Read(ptr, length)
	if !ok {
		return nil, fmt.Errorf("module %s: %s returned a reply of %d bytes at %d, outside its %s of memory",
			m.name, ExportHandle, length, ptr, mib(uint64(inst.memory.Size()))), nil, false
	}
	switch {
	case low&flagError == 0:
		// Copied: the memory is the instance's, and the next call (on another goroutine,
		// perhaps) reuses it before the worker has encoded this reply.
		return bytes.Clone(view), nil, nil, true
	case low&flagBadRequest != 0:
		return nil, worker.BadRequest("module %s rejected its payload: %s", m.name, view), nil, true
	default:
		return nil, fmt.Errorf("module %s: %s", m.name, view), nil, true
	}
}

// running returns how many calls are running on the module (tests).
func (m *Module) running() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.active
}

// isClosed reports whether the module has been closed (tests).
func (m *Module) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}
