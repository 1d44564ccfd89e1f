// Package worker is the Go side of polybridge: it decodes Request frames taken from an Aeron
// subscription, runs the named Handler and publishes a Response on the caller's reply stream.
package worker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Handler serves one named operation.
//
// Handle runs on one of the worker's pool goroutines, concurrently with other requests (to
// the same handler too), so a handler must be safe for concurrent use. ctx carries the
// caller's deadline (Request.timeoutNs) and is cancelled when the caller sends a Cancel or the
// worker stops; context.Cause(ctx) says which (ErrDeadlinePassed, ErrCancelledByCaller,
// ErrWorkerStopping). payload is the request's bytes, owned by the worker and reused once
// Handle returns: a handler that keeps them must copy them. The returned slice is copied into
// the response before the pool goroutine takes its next request. A returned error becomes a
// HANDLER_ERROR response carrying err.Error() (TIMEOUT if it is ctx's deadline); a panic
// becomes PANIC with its value. The worker keeps serving either way.
type Handler interface {
	Handle(ctx context.Context, payload []byte) ([]byte, error)
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

// Registry maps handler names to handlers. It is filled before the worker starts and only
// read afterwards, so it needs no locking.
type Registry struct {
	handlers map[string]*entry
	names    []string
}

type entry struct {
	name    string
	handler Handler
	inline  bool // run on the poll goroutine, on a view of the term buffer (RegisterInline)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{handlers: make(map[string]*entry)}
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
	return r.add(name, h, false)
}

// RegisterInline adds h under name, to run on the poll goroutine itself with the payload a
// view of the Aeron term buffer (no copy, no queue). Only for handlers that return in
// microseconds and never block, such as Echo: while one runs, nothing else is polled,
// cancelled or answered.
func (r *Registry) RegisterInline(name string, h Handler) error {
	return r.add(name, h, true)
}

func (r *Registry) add(name string, h Handler, inline bool) error {
	switch {
	case name == "":
		return errors.New("handler name is empty")
	case len(name) > maxHandlerNameLength:
		return fmt.Errorf("handler name of %d bytes exceeds %d", len(name), maxHandlerNameLength)
	case h == nil:
		return fmt.Errorf("handler %q is nil", name)
	}
	if _, dup := r.handlers[name]; dup {
		return fmt.Errorf("handler %q registered twice", name)
	}
	r.handlers[name] = &entry{name: name, handler: h, inline: inline}
	r.names = append(r.names, name)
	sort.Strings(r.names)
	return nil
}

// Lookup finds the handler for a name taken straight from a frame; it does not allocate.
func (r *Registry) Lookup(name []byte) (Handler, bool) {
	e, ok := r.handlers[string(name)]
	if !ok {
		return nil, false
	}
	return e.handler, true
}

func (r *Registry) lookup(name []byte) (*entry, bool) {
	e, ok := r.handlers[string(name)]
	return e, ok
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	return append([]string(nil), r.names...)
}
