// Package fingerprint is the web-scan app's "wappalyzer.fingerprint" method: it runs
// projectdiscovery's wappalyzergo over one fetched page (webscan.FingerprintRequest) and answers
// the technologies it detects (webscan.FingerprintResponse), sorted by name. It is served through
// the polybridge Go SDK's typed handlers, so it decodes nothing by hand.
package fingerprint

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/textproto"
	"sort"
	"strings"
	"unsafe"

	wappalyzer "github.com/projectdiscovery/wappalyzergo"

	"github.com/polybridge/polybridge/examples/web-scan/go/webscan"
	"github.com/polybridge/polybridge/native-go/worker"
)

// Name is the method's handler name.
const Name = "wappalyzer.fingerprint"

// Header is one HTTP response header as sent; names are not normalised on the wire.
type Header struct {
	Name, Value string
}

// Technology is one detected technology.
type Technology struct {
	Name       string
	Version    string // empty when wappalyzergo found none
	Categories []string
}

// Fingerprinter holds one compiled wappalyzergo instance. Its fingerprint calls only read the
// compiled fingerprints (regexps are safe for concurrent use), so one serves every pool goroutine.
type Fingerprinter struct {
	wap *wappalyzer.Wappalyze
}

// New compiles wappalyzergo's embedded fingerprints once (about 7,500 technologies: a
// noticeable fraction of a second, so at start, not per request).
func New() (*Fingerprinter, error) {
	wap, err := wappalyzer.New()
	if err != nil {
		return nil, fmt.Errorf("load wappalyzergo fingerprints: %w", err)
	}
	return &Fingerprinter{wap: wap}, nil
}

// Serve is the typed handler of Name. wappalyzergo takes no context, so a request already
// cancelled is not started, but one in progress runs to its end (tens of milliseconds for a
// large page). The URL is not used: wappalyzergo does not take one.
func (f *Fingerprinter) Serve(ctx context.Context, req *webscan.FingerprintRequest) (func(*webscan.FingerprintResponse), error) {
	var headers []Header
	for g := req.Headers(); g.HasNext(); {
		e := g.Next()
		name := e.Name() // var data in schema order: name, then value
		headers = append(headers, Header{name, e.Value()})
	}
	req.SkipUrl()
	body := bodyView(req)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return writeResponse(f.Fingerprint(headers, body)), nil
}

// bodyView returns the request's body as a view of the payload, without the two copies of the
// generated Body() (string, then []byte): pages are the large part of a request. The SDK has
// checked the length lies inside the payload.
func bodyView(req *webscan.FingerprintRequest) []byte {
	b, pos := req.Buffer(), req.SbePosition()
	n := uint64(binary.LittleEndian.Uint32(b[pos:]))
	return b[pos+4 : pos+4+n : pos+4+n]
}

// Fingerprint runs wappalyzergo's FingerprintWithInfo on headers and body and returns its
// technologies sorted by name, then version.
//
// Headers are given to wappalyzergo the way net/http would: names canonicalised
// (textproto.CanonicalMIMEHeaderKey), repeated names kept as several values in order, which
// wappalyzergo joins with ", ". (It lowercases names itself; canonicalising first keeps
// "set-cookie" and "Set-Cookie" from overwriting each other in an order that depends on Go's
// map iteration.)
func (f *Fingerprinter) Fingerprint(headers []Header, body []byte) []Technology {
	byName := make(map[string][]string, len(headers))
	for _, h := range headers {
		key := textproto.CanonicalMIMEHeaderKey(h.Name)
		byName[key] = append(byName[key], h.Value)
	}
	found := f.wap.FingerprintWithInfo(byName, body)
	techs := make([]Technology, 0, len(found))
	for key, info := range found {
		name, version := f.splitKey(key)
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
func (f *Fingerprinter) splitKey(key string) (name, version string) {
	if _, known := f.wap.GetCompiledFingerprints().Apps[key]; known {
		return key, ""
	}
	name, version, _ = strings.Cut(key, ":")
	return name, version
}

// Limits of the response schema: groups count in uint16 (the generator allows 65534), strings
// are varStringEncoding (65534 bytes).
const (
	maxGroupCount   = 65534
	maxStringLength = 65534
)

// writeResponse returns the writer of a FingerprintResponse listing techs in their order.
// Strings over the schema's limit are cut at a rune boundary (names and categories are short;
// a version comes from page text, so it is the one that could be long); lists past a group's
// limit are cut too.
func writeResponse(techs []Technology) func(*webscan.FingerprintResponse) {
	techs = techs[:min(len(techs), maxGroupCount)]
	return func(m *webscan.FingerprintResponse) {
		g := m.TechnologiesCount(uint16(len(techs)))
		for _, t := range techs {
			e := g.Next()
			cats := t.Categories[:min(len(t.Categories), maxGroupCount)]
			c := e.CategoriesCount(uint16(len(cats)))
			for _, name := range cats {
				c.Next().PutName(truncate(name))
			}
			e.PutName(truncate(t.Name)).PutVersion(truncate(t.Version))
		}
	}
}

func truncate(s string) string {
	if len(s) <= maxStringLength {
		return s
	}
	cut := maxStringLength
	for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
		cut--
	}
	return s[:cut]
}

// Lazy serves Name while the fingerprints compile in the background, so the worker announces
// itself at once instead of after wappalyzergo.New (~0.35 s): a call that arrives before the
// compilation ends waits for it, or for its own deadline (its context), whichever comes first.
type Lazy struct {
	ready chan struct{}
	f     *Fingerprinter
	err   error
}

// NewLazy starts compiling the fingerprints on a goroutine and returns at once.
func NewLazy() *Lazy {
	l := &Lazy{ready: make(chan struct{})}
	go func() {
		defer close(l.ready)
		l.f, l.err = New()
	}()
	return l
}

// Wait blocks until the fingerprints are compiled or ctx ends.
func (l *Lazy) Wait(ctx context.Context) (*Fingerprinter, error) {
	select {
	case <-l.ready:
		return l.f, l.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Serve is Fingerprinter.Serve once the fingerprints are compiled.
func (l *Lazy) Serve(ctx context.Context, req *webscan.FingerprintRequest) (func(*webscan.FingerprintResponse), error) {
	f, err := l.Wait(ctx)
	if err != nil {
		return nil, err
	}
	return f.Serve(ctx, req)
}

// Handler returns the method as a worker serves it (the SDK's typed adapter around Serve): a
// payload in, a payload out, for callers in process such as benchmarks.
func (f *Fingerprinter) Handler() worker.Handler {
	return worker.Typed[webscan.FingerprintRequest, webscan.FingerprintResponse](f.Serve)
}

// EncodeRequest writes one FingerprintRequest message (header included), for Go callers,
// tests and benchmarks. Strings and lists must fit the schema (65534 bytes, 65534 headers).
func EncodeRequest(headers []Header, url string, body []byte) []byte {
	size := int(webscan.MessageHeaderEncodedLength) + int(webscan.FingerprintRequestSbeBlockLength) + 4 + 2 + len(url) + 4 + len(body)
	for _, h := range headers {
		size += 2 + len(h.Name) + 2 + len(h.Value)
	}
	buf := make([]byte, size)
	var m webscan.FingerprintRequest
	m.WrapAndApplyHeader(buf, 0, uint64(size))
	g := m.HeadersCount(uint16(len(headers)))
	for _, h := range headers {
		g.Next().PutName(h.Name).PutValue(h.Value)
	}
	m.PutUrl(url)
	m.PutBody(unsafe.String(unsafe.SliceData(body), len(body))) // the generated Put takes a string; no copy
	return buf
}

// Register registers serve as the typed method Name in r.
func Register(r *worker.Registry, serve worker.TypedHandler[webscan.FingerprintRequest, webscan.FingerprintResponse]) error {
	return worker.RegisterTyped[webscan.FingerprintRequest, webscan.FingerprintResponse](r, Name, serve)
}
