package fingerprint

import (
	"context"
	"fmt"
	"net/textproto"
	"sort"
	"strings"

	wappalyzer "github.com/projectdiscovery/wappalyzergo"
)

// Name is the handler's registered name.
const Name = "wappalyzer.fingerprint"

// Handler serves Name with one shared wappalyzergo instance. wappalyzergo's fingerprint calls
// only read the compiled fingerprints (regexps are safe for concurrent use), so one instance
// serves every pool goroutine.
type Handler struct {
	wap *wappalyzer.Wappalyze
}

// New compiles wappalyzergo's embedded fingerprints once (about 7,500 technologies; this takes
// a noticeable fraction of a second, so do it at start, not per request).
func New() (*Handler, error) {
	wap, err := wappalyzer.New()
	if err != nil {
		return nil, fmt.Errorf("load wappalyzergo fingerprints: %w", err)
	}
	return &Handler{wap: wap}, nil
}

// Handle decodes a FingerprintRequest, fingerprints the page and encodes the response. A
// payload that does not decode is answered BAD_REQUEST (the error wraps worker.ErrBadRequest).
// wappalyzergo takes no context, so a request already cancelled is not started, but one in
// progress runs to its end (tens of milliseconds for a large page).
func (h *Handler) Handle(ctx context.Context, payload []byte) ([]byte, error) {
	req, err := DecodeRequest(payload)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return EncodeResponse(h.Fingerprint(req))
}

// Fingerprint runs wappalyzergo's FingerprintWithInfo on the request's headers and body and
// returns its technologies sorted by name. URL is not used: wappalyzergo does not take one.
//
// Headers are given to wappalyzergo the way net/http would: names canonicalised
// (textproto.CanonicalMIMEHeaderKey), repeated names kept as several values in order, which
// wappalyzergo joins with ", ". (It lowercases names itself; canonicalising first keeps
// "set-cookie" and "Set-Cookie" from overwriting each other in an order that depends on Go's
// map iteration.)
func (h *Handler) Fingerprint(req Request) []Technology {
	headers := make(map[string][]string, len(req.Headers))
	for _, hd := range req.Headers {
		key := textproto.CanonicalMIMEHeaderKey(hd.Name)
		headers[key] = append(headers[key], hd.Value)
	}
	found := h.wap.FingerprintWithInfo(headers, req.Body)
	techs := make([]Technology, 0, len(found))
	for key, info := range found {
		name, version := h.splitKey(key)
		techs = append(techs, Technology{Name: name, Version: version, Categories: info.Categories})
	}
	sort.Slice(techs, func(i, j int) bool {
		if techs[i].Name != techs[j].Name {
			return techs[i].Name < techs[j].Name
		}
		return techs[i].Version < techs[j].Version
	})
	return techs
}

// splitKey splits a wappalyzergo result key, "name" or "name:version". Some technology names
// contain ':' themselves ("Re:amaze"), so a key that is a known name is taken whole; otherwise
// the first ':' separates, as in FingerprintWithInfo, which only keeps keys of exactly two
// ':'-separated parts.
func (h *Handler) splitKey(key string) (name, version string) {
	if _, known := h.wap.GetCompiledFingerprints().Apps[key]; known {
		return key, ""
	}
	name, version, _ = strings.Cut(key, ":")
	return name, version
}

// Lazy serves Name while the fingerprints compile in the background, so the worker can announce
// itself at once instead of after wappalyzergo.New (~0.35 s): a call that arrives before the
// compilation ends waits for it, or for its own deadline (its context), whichever comes first.
type Lazy struct {
	ready   chan struct{}
	handler *Handler
	err     error
}

// NewLazy starts compiling the fingerprints on a goroutine and returns at once.
func NewLazy() *Lazy {
	l := &Lazy{ready: make(chan struct{})}
	go func() {
		defer close(l.ready)
		l.handler, l.err = New()
	}()
	return l
}

// Wait blocks until the fingerprints are compiled or ctx ends.
func (l *Lazy) Wait(ctx context.Context) (*Handler, error) {
	select {
	case <-l.ready:
		return l.handler, l.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Handle is Handler.Handle once the fingerprints are compiled.
func (l *Lazy) Handle(ctx context.Context, payload []byte) ([]byte, error) {
	h, err := l.Wait(ctx)
	if err != nil {
		return nil, err
	}
	return h.Handle(ctx, payload)
}
