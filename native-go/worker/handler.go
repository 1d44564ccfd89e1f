// Package worker is the Go side of polybridge: it decodes Request frames taken from an Aeron
// subscription, runs the named Handler and publishes a Response on the caller's reply stream.
package worker

import (
	"context"
	"errors"
	"fmt"
	"sort"
)

// Handler serves one named operation.
//
// payload aliases the received frame (often the Aeron term buffer itself) and is valid only
// until Handle returns: a handler that keeps it must copy it. The returned slice is copied into
// the response before the next request is read, so a handler may return payload itself or a
// buffer it reuses. A returned error becomes a HANDLER_ERROR response carrying err.Error().
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

// maxHandlerNameLength is the largest name the varStringEncoding of Request.handler carries.
const maxHandlerNameLength = 65534

// Registry maps handler names to handlers. It is filled before the worker starts and only
// read afterwards, so it needs no locking.
type Registry struct {
	handlers map[string]Handler
	names    []string
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{handlers: make(map[string]Handler)}
}

// Register adds h under name. Names are unique, non-empty and fit the wire's string length.
func (r *Registry) Register(name string, h Handler) error {
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
	r.handlers[name] = h
	r.names = append(r.names, name)
	sort.Strings(r.names)
	return nil
}

// Lookup finds the handler for a name taken straight from a frame; it does not allocate.
func (r *Registry) Lookup(name []byte) (Handler, bool) {
	h, ok := r.handlers[string(name)]
	return h, ok
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	return append([]string(nil), r.names...)
}
