// Package fingerprint is the "wappalyzer.fingerprint" handler: it runs projectdiscovery's
// wappalyzergo over one fetched page (FingerprintRequest) and answers the technologies it
// detects (FingerprintResponse), sorted by name.
package fingerprint

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/polybridge/polybridge/codecs/go/polybridge"
	"github.com/polybridge/polybridge/native-go/worker"
)

const (
	headerLength      = int(polybridge.MessageHeaderEncodedLength)
	requestBlock      = int(polybridge.FingerprintRequestSbeBlockLength)
	headersEntryBlock = 0 // FingerprintRequest.headers has no fixed fields in version 1
	groupHeaderLength = 4 // groupSizeEncoding: blockLength uint16, numInGroup uint16
	maxStringLength   = 65534
	maxBodyLength     = 1 << 30
)

// Header is one HTTP response header as sent; names are not normalised on the wire.
type Header struct {
	Name, Value string
}

// Request is a decoded FingerprintRequest. Strings and Body alias the payload they were
// decoded from.
type Request struct {
	Headers []Header
	URL     string
	Body    []byte
}

// Technology is one detected technology.
type Technology struct {
	Name       string
	Version    string // empty when wappalyzergo found none
	Categories []string
}

// DecodeRequest reads a FingerprintRequest (header included) without trusting any length in
// it: every count and length is checked against the bytes that are there before it is used.
// Errors wrap worker.ErrBadRequest, so the handler's caller gets BAD_REQUEST. Header values,
// URL and body are taken as bytes: nothing is checked or converted as UTF-8.
func DecodeRequest(b []byte) (Request, error) {
	r := reader{b: b}
	if len(b) < headerLength {
		return Request{}, worker.BadRequest("FingerprintRequest of %d bytes is shorter than its %d-byte header", len(b), headerLength)
	}
	blockLength, templateID := r.u16(), r.u16()
	schemaID, version := r.u16(), r.u16()
	switch {
	case schemaID != polybridge.FingerprintRequestSbeSchemaID:
		return Request{}, worker.BadRequest("payload has schema id %d, expected %d", schemaID, polybridge.FingerprintRequestSbeSchemaID)
	case templateID != polybridge.FingerprintRequestSbeTemplateID:
		return Request{}, worker.BadRequest("payload is template %d, expected FingerprintRequest (%d)", templateID, polybridge.FingerprintRequestSbeTemplateID)
	case version != polybridge.FingerprintRequestSbeSchemaVersion:
		return Request{}, worker.BadRequest("FingerprintRequest version %d is not supported; this worker speaks version %d", version, polybridge.FingerprintRequestSbeSchemaVersion)
	case int(blockLength) != requestBlock:
		return Request{}, worker.BadRequest("FingerprintRequest block length %d, expected %d", blockLength, requestBlock)
	}
	if !r.need(groupHeaderLength) {
		return Request{}, worker.BadRequest("FingerprintRequest ends inside the headers group size")
	}
	entryBlock, count := r.u16(), int(r.u16())
	if entryBlock != headersEntryBlock {
		return Request{}, worker.BadRequest("headers entry block length %d, expected %d", entryBlock, headersEntryBlock)
	}
	// Each entry takes at least its two length prefixes: a lying count cannot make us allocate
	// more than the frame could hold.
	if count > r.left()/4 {
		return Request{}, worker.BadRequest("%d headers cannot fit in the %d bytes left", count, r.left())
	}
	req := Request{Headers: make([]Header, 0, count)}
	for i := range count {
		name, err := r.str("header name", i)
		if err != nil {
			return Request{}, err
		}
		value, err := r.str("header value", i)
		if err != nil {
			return Request{}, err
		}
		req.Headers = append(req.Headers, Header{Name: name, Value: value})
	}
	url, err := r.str("url", -1)
	if err != nil {
		return Request{}, err
	}
	req.URL = url
	if !r.need(4) {
		return Request{}, worker.BadRequest("FingerprintRequest ends inside the body length")
	}
	bodyLength := uint64(r.u32())
	if bodyLength > maxBodyLength {
		return Request{}, worker.BadRequest("body length %d exceeds the schema's %d", bodyLength, maxBodyLength)
	}
	if bodyLength > uint64(r.left()) {
		return Request{}, worker.BadRequest("body length %d runs past the payload (%d bytes left)", bodyLength, r.left())
	}
	req.Body = r.bytes(int(bodyLength))
	if r.left() != 0 {
		return Request{}, worker.BadRequest("%d bytes after the body", r.left())
	}
	return req, nil
}

// reader is a bounds-checked little-endian cursor; callers check need() before reading.
type reader struct {
	b   []byte
	pos int
}

func (r *reader) left() int          { return len(r.b) - r.pos }
func (r *reader) need(n int) bool    { return n <= r.left() }
func (r *reader) u16() uint16        { v := binary.LittleEndian.Uint16(r.b[r.pos:]); r.pos += 2; return v }
func (r *reader) u32() uint32        { v := binary.LittleEndian.Uint32(r.b[r.pos:]); r.pos += 4; return v }
func (r *reader) bytes(n int) []byte { v := r.b[r.pos : r.pos+n : r.pos+n]; r.pos += n; return v }

// str reads a varStringEncoding. index >= 0 names the header entry in errors.
func (r *reader) str(what string, index int) (string, error) {
	where := what
	if index >= 0 {
		where = fmt.Sprintf("%s %d", what, index)
	}
	if !r.need(2) {
		return "", worker.BadRequest("FingerprintRequest ends inside the %s length", where)
	}
	n := int(r.u16())
	if n > maxStringLength {
		return "", worker.BadRequest("%s length %d exceeds the schema's %d", where, n, maxStringLength)
	}
	if !r.need(n) {
		return "", worker.BadRequest("%s length %d runs past the payload (%d bytes left)", where, n, r.left())
	}
	b := r.bytes(n)
	return unsafe.String(unsafe.SliceData(b), n), nil
}

// EncodeRequest writes a FingerprintRequest; for tests, benchmarks and Go callers.
func EncodeRequest(req Request) ([]byte, error) {
	if len(req.Headers) > 65535 {
		return nil, fmt.Errorf("%d headers exceed the group's 65535", len(req.Headers))
	}
	size := headerLength + requestBlock + groupHeaderLength + 2 + len(req.URL) + 4 + len(req.Body)
	for _, h := range req.Headers {
		if len(h.Name) > maxStringLength || len(h.Value) > maxStringLength {
			return nil, fmt.Errorf("header %q: name or value over %d bytes", h.Name, maxStringLength)
		}
		size += 2 + len(h.Name) + 2 + len(h.Value)
	}
	if len(req.URL) > maxStringLength || len(req.Body) > maxBodyLength {
		return nil, fmt.Errorf("url of %d bytes or body of %d bytes over the schema's limits", len(req.URL), len(req.Body))
	}
	buf := make([]byte, size)
	var m polybridge.FingerprintRequest
	m.WrapAndApplyHeader(buf, 0, uint64(size))
	g := m.HeadersCount(uint16(len(req.Headers)))
	for _, h := range req.Headers {
		g.Next().PutName(h.Name).PutValue(h.Value)
	}
	m.PutUrl(req.URL)
	m.PutBody(unsafe.String(unsafe.SliceData(req.Body), len(req.Body)))
	return buf, nil
}

// EncodeResponse writes a FingerprintResponse listing techs in the order given. Strings over
// the schema's 65534 bytes are cut at a rune boundary (wappalyzergo's names and categories
// are short; a version comes from page text, so it is the one that could be long).
func EncodeResponse(techs []Technology) ([]byte, error) {
	if len(techs) > 65535 {
		return nil, fmt.Errorf("%d technologies exceed the group's 65535", len(techs))
	}
	size := headerLength + int(polybridge.FingerprintResponseSbeBlockLength) + groupHeaderLength
	for i := range techs {
		t := &techs[i]
		t.Name, t.Version = truncate(t.Name), truncate(t.Version)
		if len(t.Categories) > 65535 {
			return nil, fmt.Errorf("technology %q has %d categories, over the group's 65535", t.Name, len(t.Categories))
		}
		size += groupHeaderLength + 2 + len(t.Name) + 2 + len(t.Version)
		for j, c := range t.Categories {
			t.Categories[j] = truncate(c)
			size += 2 + len(t.Categories[j])
		}
	}
	buf := make([]byte, size)
	var m polybridge.FingerprintResponse
	m.WrapAndApplyHeader(buf, 0, uint64(size))
	g := m.TechnologiesCount(uint16(len(techs)))
	for _, t := range techs {
		e := g.Next()
		cats := e.CategoriesCount(uint16(len(t.Categories)))
		for _, c := range t.Categories {
			cats.Next().PutName(c)
		}
		e.PutName(t.Name).PutVersion(t.Version)
	}
	return buf, nil
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
