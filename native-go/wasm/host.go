// Package wasm serves WebAssembly modules as polybridge handlers, on wazero (pure Go, no cgo).
//
// A Host compiles modules once (one wazero runtime, one compilation cache) and runs them
// sandboxed: no filesystem, no network, no environment beyond the ABI's variables, a memory
// limit, and the call's deadline enforced inside the guest. A Module is a worker.Handler; a
// Watcher keeps a worker.Registry in step with a directory of NAME.wasm files (handler
// wasm.NAME). The two ABIs a module may speak, "command" (WASI _start, stdin to stdout, a fresh
// instance per call) and "reactor" (pb_alloc + pb_handle on pooled instances), are described
// in docs/wasm.md.
package wasm

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Defaults.
const (
	DefaultMemoryLimit = 64 << 20 // bytes of linear memory one instance may grow to
	// wasiModule is the only module a guest may import from: WASI preview 1, as wazero
	// implements it, with nothing preopened.
	wasiModule = "wasi_snapshot_preview1"
)

// ABI is how a module exchanges a request and its reply with the host; docs/wasm.md.
type ABI uint8

const (
	// Command modules export _start: the payload is their stdin, the reply their stdout,
	// and each call runs in a fresh instance.
	Command ABI = iota + 1
	// Reactor modules export pb_alloc and pb_handle: instances are pooled and reused, the
	// payload is written into their memory and the reply read from it.
	Reactor
)

// Names of the reactor ABI's exports.
const (
	ExportAlloc      = "pb_alloc"    // (len i32) -> ptr i32: room for the payload
	ExportHandle     = "pb_handle"   // (ptr i32, len i32) -> i64: reply ptr << 32 | flags | len
	ExportInitialize = "_initialize" // called once per reactor instance, if exported (WASI reactors)
	ExportStart      = "_start"      // a WASI command's entry point
)

func (a ABI) String() string {
	switch a {
	case Command:
		return "command"
	case Reactor:
		return "reactor"
	}
	return fmt.Sprintf("ABI(%d)", uint8(a))
}

// Config holds a Host's settings; zero fields take their defaults.
type Config struct {
	// MemoryLimit is the most linear memory, in bytes, one instance may have; a module
	// declaring more is refused at load, a grow past it fails inside the guest and the call
	// is answered HANDLER_ERROR naming the limit. Default DefaultMemoryLimit.
	MemoryLimit uint64
	// MaxIdleInstances is how many reactor instances each module keeps for reuse; more may
	// run at once, the extra are closed after their call. Default GOMAXPROCS.
	MaxIdleInstances int
	// Cache is the compilation cache, shared by every module of the host (and by hosts given
	// the same one): a module is compiled once per distinct content. Default: a new in-memory one.
	Cache wazero.CompilationCache
	// CacheDir, if set and Cache is nil, makes the compilation cache also keep compiled code
	// in this directory, so a restarted worker (or a test run) does not compile a module it
	// has compiled before. The directory holds native code the worker will run: it must be
	// writable by nobody else.
	CacheDir string
	Logger   *slog.Logger

	// unenforcedDeadlines leaves out WithCloseOnContextDone, for the benchmark that measures
	// what enforcing deadlines inside the guest costs. Never for serving: a module could then
	// run past its deadline forever.
	unenforcedDeadlines bool
}

func (c *Config) conclude() error {
	if c.MemoryLimit == 0 {
		c.MemoryLimit = DefaultMemoryLimit
	}
	if c.MemoryLimit < pageSize || c.MemoryLimit > maxMemory {
		return fmt.Errorf("memory limit of %d bytes is outside [%d, %d]", c.MemoryLimit, pageSize, uint64(maxMemory))
	}
	if c.MaxIdleInstances < 0 {
		return fmt.Errorf("max idle instances %d is negative", c.MaxIdleInstances)
	}
	if c.MaxIdleInstances == 0 {
		c.MaxIdleInstances = runtime.GOMAXPROCS(0)
	}
	if c.Cache == nil && c.CacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(c.CacheDir)
		if err != nil {
			return fmt.Errorf("compilation cache in %s: %w", c.CacheDir, err)
		}
		c.Cache = cache
	}
	if c.Cache == nil {
		c.Cache = wazero.NewCompilationCache()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

const (
	pageSize  = 64 << 10
	maxMemory = 1 << 32 // wasm32: 65536 pages
)

// Host compiles and runs modules. Safe for concurrent use.
type Host struct {
	cfg     Config
	runtime wazero.Runtime

	mu     sync.Mutex
	closed bool
}

// NewHost starts a wazero runtime with WASI preview 1 and nothing else to import.
func NewHost(ctx context.Context, cfg Config) (*Host, error) {
	if err := cfg.conclude(); err != nil {
		return nil, err
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithCompilationCache(cfg.Cache).
		// The call's context (its deadline, a Cancel) stops the guest, even in a tight loop.
		// wazero does it by a check at every loop iteration and call, which leaves compiled
		// code (a call into Go at each loop header): the price is in docs/wasm.md.
		WithCloseOnContextDone(!cfg.unenforcedDeadlines))
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("instantiate WASI: %w", err)
	}
	return &Host{cfg: cfg, runtime: rt}, nil
}

// MemoryLimit returns the host's memory limit in bytes.
func (h *Host) MemoryLimit() uint64 { return h.cfg.MemoryLimit }

// Close closes the runtime and every module and instance in it.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	return h.runtime.Close(ctx)
}

// Load compiles wasm as the handler called name and checks that it can serve: it speaks one
// of the ABIs, imports nothing but WASI, fits the memory limit and instantiates. A reactor's
// first instance is made (and _initialize run) here, so a broken one fails at load, not on
// its first call. The module serves until Retire.
func (h *Host) Load(ctx context.Context, name string, wasm []byte) (*Module, error) {
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return nil, errors.New("the wasm host is closed")
	}
	if err := checkMemories(wasm, h.cfg.MemoryLimit); err != nil {
		return nil, err
	}
	started := time.Now()
	compiled, err := h.runtime.CompileModule(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	m, err := h.newModule(ctx, name, compiled)
	if err != nil {
		_ = compiled.Close(ctx)
		return nil, err
	}
	m.sha256 = sha256.Sum256(wasm)
	m.CompileTime = time.Since(started)
	return m, nil
}

func (h *Host) newModule(ctx context.Context, name string, compiled wazero.CompiledModule) (*Module, error) {
	abi, err := detectABI(compiled)
	if err != nil {
		return nil, err
	}
	for _, f := range compiled.ImportedFunctions() {
		if module, fn, _ := f.Import(); module != wasiModule {
			return nil, fmt.Errorf("imports %s.%s; modules may import only from %s", module, fn, wasiModule)
		}
	}
	for _, m := range compiled.ImportedMemories() {
		module, mem, _ := m.Import()
		return nil, fmt.Errorf("imports memory %s.%s; a module must define its own", module, mem)
	}
	m := &Module{
		host:     h,
		name:     name,
		abi:      abi,
		compiled: compiled,
		idle:     make(chan *instance, h.cfg.MaxIdleInstances),
	}
	base := wazero.NewModuleConfig().
		WithName(""). // anonymous: any number of instances at once
		WithArgs(name).
		WithEnv(EnvHandler, name).
		WithEnv(EnvABI, abi.String()).
		WithSysWalltime().
		WithSysNanotime()
	switch abi {
	case Command:
		m.config = base
		// Link once without running _start, so a module whose imports do not resolve (an
		// unknown WASI function, a wrong signature) fails here rather than on every call.
		mem := newLimitedMemory(h.cfg.MemoryLimit)
		probe, err := h.runtime.InstantiateModule(mem.attach(ctx), compiled, base.WithStartFunctions())
		if err != nil {
			return nil, fmt.Errorf("instantiate: %w", err)
		}
		_ = probe.Close(ctx)
	case Reactor:
		m.config = base.WithStartFunctions(ExportInitialize)
		inst, err := m.newInstance(ctx)
		if err != nil {
			return nil, err
		}
		m.idle <- inst
	}
	return m, nil
}

// detectABI tells a module's ABI by its exports: pb_alloc and pb_handle make a reactor (even
// with a _start), _start alone a command.
func detectABI(compiled wazero.CompiledModule) (ABI, error) {
	exports := compiled.ExportedFunctions()
	alloc, hasAlloc := exports[ExportAlloc]
	handle, hasHandle := exports[ExportHandle]
	switch {
	case hasAlloc || hasHandle:
		if !hasAlloc || !hasHandle {
			return 0, fmt.Errorf("exports only one of %s and %s; the reactor ABI needs both", ExportAlloc, ExportHandle)
		}
		if !signature(alloc, []api.ValueType{api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}) {
			return 0, fmt.Errorf("%s must be (i32) -> i32, is %s", ExportAlloc, describe(alloc))
		}
		if !signature(handle, []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI64}) {
			return 0, fmt.Errorf("%s must be (i32, i32) -> i64, is %s", ExportHandle, describe(handle))
		}
		if len(compiled.ExportedMemories()) == 0 {
			return 0, errors.New("a reactor must export its memory")
		}
		return Reactor, nil
	case exports[ExportStart] != nil:
		return Command, nil
	}
	return 0, fmt.Errorf("exports neither %s (command ABI) nor %s and %s (reactor ABI)", ExportStart, ExportAlloc, ExportHandle)
}

func signature(f api.FunctionDefinition, params, results []api.ValueType) bool {
	return string(f.ParamTypes()) == string(params) && string(f.ResultTypes()) == string(results)
}

func describe(f api.FunctionDefinition) string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf("(%s) -> (%s)", names(f.ParamTypes()), names(f.ResultTypes()))
}

// checkMemories refuses a module that defines a memory whose minimum exceeds limit. wazero
// would otherwise ask the instance's memory allocator for it at instantiation, and the
// allocator, which enforces the limit on every grow, cannot refuse the first allocation.
// Only the memory section is read; wazero validates everything else when it compiles.
func checkMemories(wasm []byte, limit uint64) error {
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return errors.New("not a WebAssembly binary (no \\0asm magic)")
	}
	r := &reader{b: wasm[8:]}
	for !r.done() {
		id := r.byte()
		size := r.u32()
		body := r.bytes(size)
		if r.err != nil {
			return nil // malformed: let the compiler say what is wrong
		}
		if id != 5 { // the memory section
			continue
		}
		mr := &reader{b: body}
		for n := mr.u32(); n > 0 && mr.err == nil; n-- {
			flags := mr.byte()
			minPages := mr.u32()
			if flags&1 != 0 {
				mr.u32() // maximum
			}
			if mr.err == nil && uint64(minPages)*pageSize > limit {
				return fmt.Errorf("declares %s of memory up front; the memory limit is %s (--wasm-memory-limit)",
					mib(uint64(minPages)*pageSize), mib(limit))
			}
		}
		return nil
	}
	return nil
}

// reader reads the LEB128 integers and bytes of a wasm binary; the first error sticks.
type reader struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated")

func (r *reader) done() bool { return r.err != nil || len(r.b) == 0 }

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errShort
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) u32() uint32 {
	var v uint32
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.err = errors.New("LEB128 too long")
	return 0
}

func (r *reader) bytes(n uint32) []byte {
	if r.err != nil || uint64(n) > uint64(len(r.b)) {
		r.err = errShort
		return nil
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b
}

func mib(bytes uint64) string {
	if bytes%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", bytes>>20)
	}
	return fmt.Sprintf("%.1f MiB", float64(bytes)/(1<<20))
}
