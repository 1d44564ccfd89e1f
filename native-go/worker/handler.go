// Package worker is the Go side of polybridge: it decodes Request frames taken from an Aeron
// subscription, runs the named Handler and publishes a Response on the caller's reply stream.
package worker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Handler serves one named operation.
//
// Handle runs on one of the worker's pool goroutines, concurrently with other requests (to
// the same handler too), so a handler must be safe for concurrent use. ctx carries the
// caller's deadline (Request.timeoutNs) and is cancelled when the caller sends a Cancel or the
// worker stops; context.Cause(ctx) says which (ErrDeadlinePassed, ErrCancelledByCaller,
// ErrWorkerStopping). payload is the request's bytes, owned by the worker and reused once
// Handle returns: a handler that keeps them must copy them. A payload the client put in its
// payload region is a view of that region, mapped read-only: it must not be written to. The returned slice is copied into
// the response before the pool goroutine takes its next request. A returned error becomes a
// HANDLER_ERROR response carrying err.Error() (TIMEOUT if it is ctx's deadline); a panic
// becomes PANIC with its value. The worker keeps serving either way.
type Handler interface {
	Handle(ctx context.Context, payload []byte) ([]byte, error)
}

// RequestInfo is what a handler may want to know about the request it serves besides its
// payload and deadline; RequestInfoFrom reads it from the handler's context.
type RequestInfo struct {
	Handler       string // the name the request was routed by
	CorrelationID int64  // the caller's id for the call, unique within its client
	ReplyStreamID int32  // the caller's reply stream
}

// requestState is what a handler's context carries: its RequestInfo (kept comparable, so no
// map in it) and the caller's metadata (Metadata).
type requestState struct {
	info     RequestInfo
	metadata map[string]string // nil when the request carries none
}

type requestInfoKey struct{}

// RequestInfoFrom returns the request a handler's ctx belongs to; ok is false for a context
// that did not come from a worker (tests calling Handle directly).
func RequestInfoFrom(ctx context.Context) (info RequestInfo, ok bool) {
	p, ok := ctx.Value(requestInfoKey{}).(*requestState)
	if !ok || p == nil {
		return RequestInfo{}, false
	}
	return p.info, true
}

// withRequestInfo returns parent carrying info; info must not change while the request runs.
func withRequestInfo(parent context.Context, info *requestState) context.Context {
	return context.WithValue(parent, requestInfoKey{}, info)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, payload []byte) ([]byte, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, payload []byte) ([]byte, error) {
	return f(ctx, payload)
}

// Echo returns its payload unchanged.
var Echo Handler = HandlerFunc(func(_ context.Context, payload []byte) ([]byte, error) {
	return payload, nil
})

// DebugSleepName is the name of DebugSleep, registered only with --debug-handlers.
const DebugSleepName = "debug.sleep"

// DebugSleep is a deliberately slow handler for tests of deadlines and cancellation: it sleeps
// for the milliseconds in its payload (4 bytes, little-endian, at most 60000) without looking at
// its context, as a handler stuck in a library call would, then echoes the payload.
var DebugSleep Handler = HandlerFunc(func(_ context.Context, payload []byte) ([]byte, error) {
	if len(payload) != 4 {
		return nil, BadRequest("debug.sleep takes 4 bytes (uint32 milliseconds, little-endian), got %d", len(payload))
	}
	millis := binary.LittleEndian.Uint32(payload)
	if millis > 60000 {
		return nil, BadRequest("debug.sleep sleeps at most 60000 ms, asked for %d", millis)
	}
	time.Sleep(time.Duration(millis) * time.Millisecond)
	return payload, nil
})

// maxHandlerNameLength is the largest name the varStringEncoding of Request.handler carries.
const maxHandlerNameLength = 65534

// Registry maps handler names to handlers. It may change while the worker runs (handlers
// added, replaced or removed, e.g. WebAssembly modules appearing in a directory): each change
// publishes a new immutable snapshot, so the poll goroutine looks names up with one atomic load
// and no lock, and a request already routed keeps the handler it was routed to. Version
// counts the changes; the worker re-announces itself when it moves.
type Registry struct {
	mu       sync.Mutex // serialises writers; readers only load snapshot
	snapshot atomic.Pointer[registrySnapshot]
}

// registrySnapshot is one immutable state of a Registry.
type registrySnapshot struct {
	handlers map[string]*entry
	names    []string // sorted
	served   string   // names joined by ", ", for NOT_FOUND messages
	version  uint64
}

var emptySnapshot = &registrySnapshot{handlers: map[string]*entry{}}

type entry struct {
	name    string
	handler Handler
	inline  bool // run on the poll goroutine, on a view of the term buffer (RegisterInline)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{}
}

// DefaultRegistry is the registry Handle fills and New uses when given none.
var DefaultRegistry = NewRegistry()

// Handle registers h under name in DefaultRegistry, to run on the worker's handler pool.
// It panics on an empty, duplicate or over-long name, like net/http.Handle.
func Handle(name string, h Handler) {
	if err := DefaultRegistry.Register(name, h); err != nil {
		panic(err)
	}
}

// HandleInline registers h in DefaultRegistry to run on the poll goroutine; see RegisterInline.
func HandleInline(name string, h Handler) {
	if err := DefaultRegistry.RegisterInline(name, h); err != nil {
		panic(err)
	}
}

// Register adds h under name, to run on the worker's handler pool. Names are unique,
// non-empty and fit the wire's string length.
func (r *Registry) Register(name string, h Handler) error {
	return r.add(name, h, false, false)
}

// RegisterInline adds h under name, to run on the poll goroutine itself with the payload a
// view of the Aeron term buffer (no copy, no queue). Only for handlers that return in
// microseconds and never block, such as Echo: while one runs, nothing else is polled,
// cancelled or answered.
func (r *Registry) RegisterInline(name string, h Handler) error {
	return r.add(name, h, false, true)
}

// Replace registers h under name to run on the handler pool, replacing whatever was
// registered under that name. Requests already routed to the old handler (queued or
// running) still run on it; later ones get h.
func (r *Registry) Replace(name string, h Handler) error {
	return r.add(name, h, true, false)
}

// Remove unregisters name and reports whether it was registered. Requests already routed to
// it still run; later ones are answered NOT_FOUND.
func (r *Registry) Remove(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.load()
	if _, ok := old.handlers[name]; !ok {
		return false
	}
	handlers := make(map[string]*entry, len(old.handlers))
	for n, e := range old.handlers {
		if n != name {
			handlers[n] = e
		}
	}
	r.publish(old, handlers)
	return true
}

func (r *Registry) add(name string, h Handler, replace, inline bool) error {
	switch {
	case name == "":
		return errors.New("handler name is empty")
	case len(name) > maxHandlerNameLength:
		return fmt.Errorf("handler name of %d bytes exceeds %d", len(name), maxHandlerNameLength)
	case h == nil:
		return fmt.Errorf("handler %q is nil", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.load()
	if _, dup := old.handlers[name]; dup && !replace {
		return fmt.Errorf("handler %q registered twice", name)
	}
	handlers := make(map[string]*entry, len(old.handlers)+1)
	for n, e := range old.handlers {
		handlers[n] = e
	}
	handlers[name] = &entry{name: name, handler: h, inline: inline}
	r.publish(old, handlers)
	return nil
}

// publish stores the snapshot holding handlers; r.mu is held.
func (r *Registry) publish(old *registrySnapshot, handlers map[string]*entry) {
	names := make([]string, 0, len(handlers))
	for n := range handlers {
		names = append(names, n)
	}
	sort.Strings(names)
	r.snapshot.Store(&registrySnapshot{
		handlers: handlers,
		names:    names,
		served:   strings.Join(names, ", "),
		version:  old.version + 1,
	})
}

func (r *Registry) load() *registrySnapshot {
	if s := r.snapshot.Load(); s != nil {
		return s
	}
	return emptySnapshot
}

// Lookup finds the handler for a name taken straight from a frame; it does not allocate.
func (r *Registry) Lookup(name []byte) (Handler, bool) {
	e, ok := r.lookup(name)
	if !ok {
		return nil, false
	}
	return e.handler, true
}

func (r *Registry) lookup(name []byte) (*entry, bool) {
	e, ok := r.load().handlers[string(name)]
	return e, ok
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	return append([]string(nil), r.load().names...)
}

// Version counts the changes made to the registry: it moves whenever a handler is added,
// replaced or removed, so a worker knows when to re-encode its announcement.
func (r *Registry) Version() uint64 {
	return r.load().version
}

// served returns the registered names joined by ", ", for NOT_FOUND messages.
func (r *Registry) served() string {
	return r.load().served
}
