package fingerprint

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/polybridge/polybridge/codecs/go/polybridge"
	"github.com/polybridge/polybridge/native-go/worker"
)

// corpusDir holds the shared real-world pages (../shared/corpus from the repository root).
var corpusDir = filepath.Join("..", "..", "..", "shared", "corpus", "html")

var (
	sharedOnce    sync.Once
	sharedHandler *Handler
	sharedErr     error
)

func handler(tb testing.TB) *Handler {
	tb.Helper()
	sharedOnce.Do(func() { sharedHandler, sharedErr = New() })
	if sharedErr != nil {
		tb.Fatal(sharedErr)
	}
	return sharedHandler
}

func corpus(tb testing.TB) []string {
	tb.Helper()
	pages, _ := filepath.Glob(filepath.Join(corpusDir, "*.html"))
	if len(pages) == 0 {
		tb.Skipf("no corpus pages in %s (the shared corpus sits next to the repository)", corpusDir)
	}
	return pages
}

func mustEncode(tb testing.TB, req Request) []byte {
	tb.Helper()
	b, err := EncodeRequest(req)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// decodeResponse reads a FingerprintResponse with the generated codec (tests only: the frame
// comes from our own encoder).
func decodeResponse(tb testing.TB, b []byte) []Technology {
	tb.Helper()
	var m polybridge.FingerprintResponse
	m.WrapForDecode(b, uint64(headerLength), uint64(polybridge.FingerprintResponseSbeBlockLength), uint64(polybridge.FingerprintResponseSbeSchemaVersion), uint64(len(b)))
	var techs []Technology
	for g := m.Technologies(); g.HasNext(); {
		e := g.Next()
		t := Technology{Categories: []string{}}
		for c := e.Categories(); c.HasNext(); {
			t.Categories = append(t.Categories, c.Next().Name())
		}
		t.Name = e.Name()
		t.Version = e.Version()
		techs = append(techs, t)
	}
	if m.SbePosition() != uint64(len(b)) {
		tb.Fatalf("response decoding stopped at %d of %d bytes", m.SbePosition(), len(b))
	}
	return techs
}

func TestRequestRoundTripsThroughTheCodec(t *testing.T) {
	body := []byte{0xff, 0xfe, 0, '<', 'h', 't', 'm', 'l', '>'} // not UTF-8, with a NUL
	in := Request{Headers: []Header{{"Server", "nginx/1.25.3"}, {"Set-Cookie", "a=1"}, {"Set-Cookie", "b=\xff"}}, URL: "https://example.org/", Body: body}
	out, err := DecodeRequest(mustEncode(t, in))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.Headers, in.Headers) || out.URL != in.URL || string(out.Body) != string(body) {
		t.Fatalf("decoded %+v, want %+v", out, in)
	}
}

func TestGoldenFingerprintRequestDecodes(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "schema", "golden", "fingerprint-request.bin"))
	if err != nil {
		t.Fatalf("golden vector missing (written by the Java suite): %v", err)
	}
	req, err := DecodeRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Headers) == 0 || req.URL == "" {
		t.Errorf("golden request decoded as %+v", req)
	}
}

func TestMalformedRequestsAreBadRequests(t *testing.T) {
	good := mustEncode(t, Request{Headers: []Header{{"Server", "nginx"}}, URL: "u", Body: []byte("body")})
	patch := func(at int, v ...byte) []byte { b := slices.Clone(good); copy(b[at:], v); return b }
	// Layout: header 0-7, group 8-11, name len 12, "Server" 14-19, value len 20, "nginx" 22-26,
	// url len 27, "u" 29, body len 30-33, "body" 34-37.
	for name, b := range map[string][]byte{
		"empty":                       {},
		"truncated header":            good[:5],
		"other schema":                patch(4, 0x01, 0x00),
		"other template":              patch(2, 1, 0),
		"other version":               patch(6, 2, 0),
		"block length":                patch(0, 4, 0),
		"group entry block length":    patch(8, 4, 0),
		"header count past the end":   patch(10, 0xff, 0xff),
		"name length past the end":    patch(12, 0xf0, 0),
		"name length over 65534":      patch(12, 0xff, 0xff),
		"value length past the end":   patch(20, 0xf0, 0),
		"url length past the end":     patch(27, 0xf0, 0),
		"body length past the end":    patch(30, 5, 0, 0, 0),
		"body length over 2^30":       patch(30, 0xff, 0xff, 0xff, 0xff),
		"trailing bytes":              append(slices.Clone(good), 0),
		"ends inside the body length": good[:32],
		"ends inside the group":       good[:10],
	} {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeRequest(b)
			if !errors.Is(err, worker.ErrBadRequest) {
				t.Fatalf("err = %v, want a BAD_REQUEST error", err)
			}
		})
	}
}

func TestHandlerAnswersSortedTechnologiesWithVersionsAndCategories(t *testing.T) {
	h := handler(t)
	body := []byte(`<html><head><script src="/js/jquery-1.7.1.min.js"></script></head><body>x</body></html>`)
	out, err := h.Handle(context.Background(), mustEncode(t, Request{
		Headers: []Header{{"Server", "nginx/1.25.3"}, {"X-Powered-By", "PHP/8.2"}},
		Body:    body,
	}))
	if err != nil {
		t.Fatal(err)
	}
	techs := decodeResponse(t, out)
	names := make([]string, len(techs))
	for i, tech := range techs {
		names[i] = tech.Name
	}
	if !sort.StringsAreSorted(names) {
		t.Errorf("not sorted by name: %v", names)
	}
	want := map[string]Technology{
		"Nginx":  {"Nginx", "1.25.3", []string{"Web servers", "Reverse proxies"}},
		"PHP":    {"PHP", "8.2", []string{"Programming languages"}},
		"jQuery": {"jQuery", "1.7.1", []string{"JavaScript libraries"}},
	}
	for _, tech := range techs {
		if w, ok := want[tech.Name]; ok {
			if tech.Version != w.Version || !slices.Equal(tech.Categories, w.Categories) {
				t.Errorf("%+v, want %+v", tech, w)
			}
			delete(want, tech.Name)
		}
	}
	if len(want) > 0 {
		t.Errorf("not detected: %v (got %+v)", want, techs)
	}
}

func TestNamesContainingAColonAreNotSplit(t *testing.T) {
	h := handler(t)
	if name, version := h.splitKey("Re:amaze"); name != "Re:amaze" || version != "" {
		t.Errorf("Re:amaze split into %q %q", name, version)
	}
	if name, version := h.splitKey("PHP:8.2"); name != "PHP" || version != "8.2" {
		t.Errorf("PHP:8.2 split into %q %q", name, version)
	}
}

func TestHandlerRejectsMalformedPayloadsAndCancelledContexts(t *testing.T) {
	h := handler(t)
	if _, err := h.Handle(context.Background(), []byte("not sbe")); !errors.Is(err, worker.ErrBadRequest) {
		t.Errorf("garbage: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Handle(ctx, mustEncode(t, Request{})); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// The handler over the real pages: answers decode, are sorted, and are the same every time
// (wappalyzergo iterates maps; the sort and key handling must make the output stable).
func TestHandlerIsDeterministicOverTheCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("fingerprints the corpus")
	}
	h := handler(t)
	checked := 0
	for _, page := range corpus(t) {
		body, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		// Small pages only: wappalyzergo takes seconds on the large ones under -race. The
		// Java parity test covers the whole corpus.
		if len(body) > 64*1024 || checked == 8 {
			continue
		}
		checked++
		payload := mustEncode(t, Request{Body: body, Headers: []Header{{"Set-Cookie", "PHPSESSID=abc; path=/"}}})
		first, err := h.Handle(context.Background(), payload)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := h.Handle(context.Background(), payload)
		if string(first) != string(again) {
			t.Errorf("%s: two runs differ", filepath.Base(page))
		}
		decodeResponse(t, first)
	}
}

// FuzzDecodeRequest: no input may panic the decoder, and what it accepts re-encodes to the
// same bytes (the decoder accepts exactly the encoder's language).
func FuzzDecodeRequest(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "..", "schema", "golden", "fingerprint-request*.bin"))
	for _, path := range seeds {
		if b, err := os.ReadFile(path); err == nil {
			f.Add(b)
		}
	}
	f.Add(mustEncode(f, Request{Headers: []Header{{"Server", "nginx"}, {"", ""}}, URL: "u", Body: []byte{0xff}}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := DecodeRequest(b)
		if err != nil {
			if !errors.Is(err, worker.ErrBadRequest) {
				t.Fatalf("error %v is not a BAD_REQUEST", err)
			}
			return
		}
		again, err := EncodeRequest(req)
		if err != nil || string(again) != string(b) {
			t.Fatalf("accepted %x but re-encodes to %x (%v)", b, again, err)
		}
	})
}

// BenchmarkHandlerOverTheCorpus: one op fingerprints every corpus page once, no headers,
// through Handle (decode, wappalyzergo, sort, encode) on one goroutine.
func BenchmarkHandlerOverTheCorpus(b *testing.B) {
	h := handler(b)
	pages := corpus(b)
	payloads := make([][]byte, len(pages))
	total := 0
	for i, page := range pages {
		body, err := os.ReadFile(page)
		if err != nil {
			b.Fatal(err)
		}
		payloads[i] = mustEncode(b, Request{Body: body})
		total += len(body)
	}
	b.SetBytes(int64(total))
	b.ResetTimer()
	for b.Loop() {
		for _, p := range payloads {
			if _, err := h.Handle(context.Background(), p); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(payloads))/1e6, "ms/page")
}
