package fingerprint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"sync"
	"testing"

	wappalyzer "github.com/projectdiscovery/wappalyzergo"

	"github.com/polybridge/polybridge/examples/web-scan/go/webscan"
	"github.com/polybridge/polybridge/native-go/worker"
)

// Paths from this package: the web-scan schema's golden vectors, and the shared corpus next to
// the repository.
var (
	goldenDir = filepath.Join("..", "..", "schema", "golden")
	corpusDir = filepath.Join("..", "..", "..", "..", "..", "shared", "corpus", "html")
)

var (
	referenceOnce sync.Once
	referenceWap  *wappalyzer.Wappalyze
	referenceErr  error

	sharedOnce sync.Once
	shared     *Fingerprinter
	sharedErr  error
)

func fingerprinter(tb testing.TB) *Fingerprinter {
	tb.Helper()
	sharedOnce.Do(func() { shared, sharedErr = New() })
	if sharedErr != nil {
		tb.Fatal(sharedErr)
	}
	return shared
}

// handler is Name as the worker serves it: the typed adapter around Serve.
func handler(tb testing.TB) worker.Handler {
	return fingerprinter(tb).Handler()
}

const headerLength = int(webscan.MessageHeaderEncodedLength)

type request struct {
	headers []Header
	url     string
	body    []byte
}

func encodeRequest(r request) []byte { return EncodeRequest(r.headers, r.url, r.body) }

func decodeRequest(t *testing.T, b []byte) request {
	t.Helper()
	var m webscan.FingerprintRequest
	m.WrapForDecode(b, uint64(headerLength), uint64(webscan.FingerprintRequestSbeBlockLength), uint64(webscan.FingerprintRequestSbeSchemaVersion), uint64(len(b)))
	r := request{headers: []Header{}}
	for g := m.Headers(); g.HasNext(); {
		e := g.Next()
		name := e.Name()
		r.headers = append(r.headers, Header{name, e.Value()})
	}
	r.url = m.Url()
	r.body = []byte(m.Body())
	if m.SbePosition() != uint64(len(b)) {
		t.Fatalf("request decoding stopped at %d of %d bytes", m.SbePosition(), len(b))
	}
	return r
}

// encodeResponse writes techs with the package's own response writer, as the worker does.
func encodeResponse(t *testing.T, techs []Technology) []byte {
	t.Helper()
	var m webscan.FingerprintResponse
	buf := make([]byte, 1<<16)
	m.WrapAndApplyHeader(buf, 0, uint64(len(buf)))
	writeResponse(techs)(&m)
	return buf[:headerLength+int(m.EncodedLength())]
}

func decodeResponse(tb testing.TB, b []byte) []Technology {
	tb.Helper()
	var m webscan.FingerprintResponse
	if len(b) < headerLength {
		tb.Fatalf("response of %d bytes", len(b))
	}
	m.WrapForDecode(b, uint64(headerLength), uint64(webscan.FingerprintResponseSbeBlockLength), uint64(webscan.FingerprintResponseSbeSchemaVersion), uint64(len(b)))
	techs := []Technology{}
	for g := m.Technologies(); g.HasNext(); {
		e := g.Next()
		tech := Technology{Categories: []string{}}
		for c := e.Categories(); c.HasNext(); {
			tech.Categories = append(tech.Categories, c.Next().Name())
		}
		tech.Name = e.Name()
		tech.Version = e.Version()
		techs = append(techs, tech)
	}
	if m.SbePosition() != uint64(len(b)) {
		tb.Fatalf("response decoding stopped at %d of %d bytes", m.SbePosition(), len(b))
	}
	return techs
}

func readGolden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, name))
	if err != nil {
		t.Fatalf("golden vector %s missing (written by the web-scan Java suite): %v", name, err)
	}
	return b
}

func goldenBody() []byte {
	var b bytes.Buffer
	b.WriteString("<html><head><title>Tést</title></head><body>")
	b.Write([]byte{0xFF, 0xFE, 0x00})
	b.WriteString("</body></html>")
	return b.Bytes()
}

func goldenHeaders() []Header {
	headers := make([]Header, 40)
	for i := range headers {
		headers[i] = Header{fmt.Sprintf("X-Header-%d", i), fmt.Sprintf("välue %d ✓", i)}
	}
	return headers
}

// The web-scan schema's fingerprint vectors (examples/web-scan/schema/golden/README.md):
// encoded by Go to the same bytes, and decoded back to the same values.
func TestGoldenVectors(t *testing.T) {
	requests := map[string]request{
		"fingerprint-request.bin":       {goldenHeaders(), "https://example.com/päth?q=✓", goldenBody()},
		"fingerprint-request-empty.bin": {[]Header{}, "", []byte{}},
	}
	for file, want := range requests {
		t.Run(file, func(t *testing.T) {
			b := readGolden(t, file)
			if got := encodeRequest(want); !bytes.Equal(got, b) {
				t.Errorf("Go encodes %d bytes, the file has %d", len(got), len(b))
			}
			if got := decodeRequest(t, b); !reflect.DeepEqual(got, want) {
				t.Errorf("the file decodes to %+v", got)
			}
		})
	}
	responses := map[string][]Technology{
		"fingerprint-response.bin": {
			{"Nginx", "1.25.3", []string{"Web servers", "Reverse proxies"}},
			{"React", "", []string{"JavaScript frameworks"}},
			{"Ünïcode ✓ 日本", "", []string{}},
		},
		"fingerprint-response-empty.bin": {},
	}
	for file, want := range responses {
		t.Run(file, func(t *testing.T) {
			b := readGolden(t, file)
			if got := encodeResponse(t, want); !bytes.Equal(got, b) {
				t.Errorf("Go encodes %d bytes, the file has %d", len(got), len(b))
			}
			if got := decodeResponse(t, b); !reflect.DeepEqual(got, want) {
				t.Errorf("the file decodes to %+v", got)
			}
		})
	}
}

// reference is wappalyzergo called in process, with no polybridge code in between, as a Go
// program holding an http.Header would: result key ("name" or "name:version") -> categories.
func reference(t *testing.T, headers []Header, body []byte) map[string][]string {
	t.Helper()
	referenceOnce.Do(func() { referenceWap, referenceErr = wappalyzer.New() })
	wap, err := referenceWap, referenceErr
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	for _, hd := range headers {
		h.Add(hd.Name, hd.Value)
	}
	out := map[string][]string{}
	for key, info := range wap.FingerprintWithInfo(h, body) {
		out[key] = info.Categories
	}
	return out
}

// asKeys turns the method's answer back into wappalyzergo's keys.
func asKeys(techs []Technology) map[string][]string {
	out := map[string][]string{}
	for _, tech := range techs {
		key := tech.Name
		if tech.Version != "" {
			key += ":" + tech.Version
		}
		out[key] = tech.Categories
	}
	return out
}

// Parity: the typed method answers what wappalyzergo answers in process, for the golden request
// and for pages with headers that name technologies, sorted by name.
func TestMethodAnswersWhatWappalyzergoAnswersInProcess(t *testing.T) {
	jquery := []byte(`<html><head><script src="/js/jquery-1.7.1.min.js"></script></head><body>x</body></html>`)
	cases := map[string]request{
		"the golden request": decodeRequest(t, readGolden(t, "fingerprint-request.bin")),
		"headers and a script": {[]Header{{"Server", "nginx/1.25.3"}, {"X-Powered-By", "PHP/8.2"}, {"set-cookie", "PHPSESSID=a"}, {"Set-Cookie", "b=2"}},
			"https://example.org/", jquery},
		"nothing at all": {nil, "", nil},
	}
	for _, page := range corpus(t, 3) {
		body, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		cases[filepath.Base(page)] = request{[]Header{{"Server", "Apache"}}, "", body}
	}
	h := handler(t)
	for name, req := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := h.Handle(context.Background(), encodeRequest(req))
			if err != nil {
				t.Fatal(err)
			}
			techs := decodeResponse(t, out)
			if !sort.SliceIsSorted(techs, func(i, j int) bool { return techs[i].Name < techs[j].Name }) {
				t.Errorf("not sorted by name: %+v", techs)
			}
			if got, want := asKeys(techs), reference(t, req.headers, req.body); !reflect.DeepEqual(got, want) {
				t.Errorf("method answers %v\nwappalyzergo in process %v", got, want)
			}
		})
	}
}

// corpus returns up to n small pages of the shared corpus (wappalyzergo takes seconds on the
// large ones under -race; the Java parity test covers them all).
func corpus(tb testing.TB, n int) []string {
	tb.Helper()
	pages, _ := filepath.Glob(filepath.Join(corpusDir, "*.html"))
	var small []string
	for _, p := range pages {
		if info, err := os.Stat(p); err == nil && info.Size() <= 64*1024 && len(small) < n {
			small = append(small, p)
		}
	}
	if len(small) == 0 {
		tb.Logf("no corpus pages in %s (the shared corpus sits next to the repository)", corpusDir)
	}
	return small
}

func TestNamesContainingAColonAreNotSplit(t *testing.T) {
	f := fingerprinter(t)
	if name, version := f.splitKey("Re:amaze"); name != "Re:amaze" || version != "" {
		t.Errorf("Re:amaze split into %q %q", name, version)
	}
	if name, version := f.splitKey("PHP:8.2"); name != "PHP" || version != "8.2" {
		t.Errorf("PHP:8.2 split into %q %q", name, version)
	}
}

// Payloads that are not one FingerprintRequest are BAD_REQUEST (the SDK's typed adapter checks
// them); a cancelled call is not started.
func TestMalformedPayloadsAreBadRequestsAndCancelledCallsAreNotStarted(t *testing.T) {
	good := encodeRequest(request{[]Header{{"Server", "nginx"}}, "u", []byte("body")})
	patch := func(at int, v ...byte) []byte { b := slices.Clone(good); copy(b[at:], v); return b }
	// Layout: header 0-7, group 8-11, name len 12, "Server" 14-19, value len 20, "nginx" 22-26,
	// url len 27, "u" 29, body len 30-33, "body" 34-37.
	h := handler(t)
	for name, b := range map[string][]byte{
		"empty":                     {},
		"truncated header":          good[:5],
		"the transport schema":      patch(4, 0xBD, 0x1B),
		"other template":            patch(2, 3, 0),
		"other version":             patch(6, 2, 0),
		"block length":              patch(0, 4, 0),
		"header count past the end": patch(10, 0xff, 0xff),
		"name length past the end":  patch(12, 0xf0, 0),
		"value length past the end": patch(20, 0xf0, 0),
		"url length past the end":   patch(27, 0xf0, 0),
		"body length past the end":  patch(30, 5, 0, 0, 0),
		"body length over 2^30":     patch(30, 0xff, 0xff, 0xff, 0xff),
		"trailing bytes":            append(slices.Clone(good), 0),
		"ends inside the group":     good[:10],
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := h.Handle(context.Background(), b); !errors.Is(err, worker.ErrBadRequest) {
				t.Fatalf("err = %v, want a BAD_REQUEST error", err)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Handle(ctx, good); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// FuzzMethod: no payload may panic the method; it answers BAD_REQUEST or a response that
// decodes.
func FuzzMethod(f *testing.F) {
	for _, name := range []string{"fingerprint-request.bin", "fingerprint-request-empty.bin"} {
		if b, err := os.ReadFile(filepath.Join(goldenDir, name)); err == nil {
			f.Add(b)
		}
	}
	f.Add(encodeRequest(request{[]Header{{"Server", "nginx"}, {"", ""}}, "u", []byte{0xff}}))
	f.Add([]byte{})
	h := handler(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := h.Handle(context.Background(), b)
		if err != nil {
			if !errors.Is(err, worker.ErrBadRequest) {
				t.Fatalf("error %v is not a BAD_REQUEST", err)
			}
			return
		}
		decodeResponse(t, out)
	})
}

// BenchmarkMethodOverTheCorpus: one op fingerprints every corpus page once, no headers, through
// the typed method (decode, wappalyzergo, sort, encode) on one goroutine.
func BenchmarkMethodOverTheCorpus(b *testing.B) {
	h := handler(b)
	pages, _ := filepath.Glob(filepath.Join(corpusDir, "*.html"))
	if len(pages) == 0 {
		b.Skip("no corpus")
	}
	payloads := make([][]byte, len(pages))
	total := 0
	for i, page := range pages {
		body, err := os.ReadFile(page)
		if err != nil {
			b.Fatal(err)
		}
		payloads[i] = encodeRequest(request{body: body})
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
