package worker

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/polybridge/polybridge/codecs/go/polybridge"
)

// goldenDir holds the vectors written by the Java suite (schema/golden/README.md).
var goldenDir = filepath.Join("..", "..", "schema", "golden")

func readGolden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, name))
	if err != nil {
		t.Fatalf("golden vector %s is missing (%v): generate it with the Java suite, "+
			"GoldenVectorsTest with -Dgolden.write=true, into schema/golden/", name, err)
	}
	return b
}

func goldenHeader(t *testing.T, b []byte, template, block uint16) {
	t.Helper()
	if len(b) < headerLength {
		t.Fatalf("%d bytes: no header", len(b))
	}
	var h polybridge.MessageHeader
	h.Wrap(b, 0, uint64(SchemaVersion), uint64(len(b)))
	if h.SchemaId() != schemaID || h.Version() != SchemaVersion || h.TemplateId() != template || h.BlockLength() != block {
		t.Fatalf("header %s, want schema %d version %d template %d block %d", h.String(), schemaID, SchemaVersion, template, block)
	}
}

type announcement struct {
	schemaID, schemaVersion uint16
	language                polybridge.Language
	pid                     int64
	requestStreamID         int32
	handlers                []string
	workerID                string
	requestChannel          string
	regionID                int64
}

func decodeAnnouncement(t *testing.T, b []byte) announcement {
	goldenHeader(t, b, polybridge.WorkerAnnouncementSbeTemplateID, polybridge.WorkerAnnouncementSbeBlockLength)
	var m polybridge.WorkerAnnouncement
	m.WrapForDecode(b, uint64(headerLength), uint64(polybridge.WorkerAnnouncementSbeBlockLength), uint64(SchemaVersion), uint64(len(b)))
	a := announcement{schemaID: m.SchemaId(), schemaVersion: m.SchemaVersion(), language: m.Language(),
		pid: m.Pid(), requestStreamID: m.RequestStreamId(), regionID: m.RegionId(), handlers: []string{}}
	for g := m.Handlers(); g.HasNext(); {
		a.handlers = append(a.handlers, g.Next().Name())
	}
	a.workerID = m.WorkerId()
	a.requestChannel = m.RequestChannel()
	assertConsumed(t, m.SbePosition(), b)
	return a
}

func assertConsumed(t *testing.T, pos uint64, b []byte) {
	t.Helper()
	if pos != uint64(len(b)) {
		t.Fatalf("decoding stopped at byte %d of %d", pos, len(b))
	}
}

func decodeRequest(t *testing.T, b []byte) request {
	goldenHeader(t, b, polybridge.RequestSbeTemplateID, polybridge.RequestSbeBlockLength)
	var m polybridge.Request
	m.WrapForDecode(b, uint64(headerLength), uint64(polybridge.RequestSbeBlockLength), uint64(SchemaVersion), uint64(len(b)))
	r := request{correlationID: m.CorrelationId(), timeoutNs: m.TimeoutNs(), replyStreamID: m.ReplyStreamId(),
		region: regionRef{m.RegionId(), m.RegionOffset(), m.RegionLength()}}
	for g := m.Metadata(); g.HasNext(); {
		e := g.Next()
		key := e.Key()
		r.metadata = append(r.metadata, metadataEntry{key, e.Value()})
	}
	r.replyChannel = m.ReplyChannel()
	r.handler = m.Handler()
	r.payload = []byte(m.Payload())
	assertConsumed(t, m.SbePosition(), b)
	return r
}

type cancel struct {
	correlationID int64
	replyStreamID int32
	replyChannel  string
}

func decodeCancel(t *testing.T, b []byte) cancel {
	goldenHeader(t, b, polybridge.CancelSbeTemplateID, polybridge.CancelSbeBlockLength)
	var m polybridge.Cancel
	m.WrapForDecode(b, uint64(headerLength), uint64(polybridge.CancelSbeBlockLength), uint64(SchemaVersion), uint64(len(b)))
	c := cancel{m.CorrelationId(), m.ReplyStreamId(), m.ReplyChannel()}
	assertConsumed(t, m.SbePosition(), b)
	return c
}

// goldenCase is one vector: how Go encodes the logical value, and how Go decodes the file back
// to a value comparable with it.
type goldenCase struct {
	file   string
	encode func() []byte
	decode func(t *testing.T, b []byte) any
	want   any
}

func goldenCases() []goldenCase {
	reqEcho := request{0x0102030405060708, 5000000000, 1001, nil, "echo", pattern(256), "", regionRef{}}
	reqEmpty := request{0, 0, 0, nil, "", []byte{}, "", regionRef{}}
	reqLarge := request{-1, 9223372036854775807, 2147483647, nil, "wappalyzer.fingerprint", pattern(100000), "", regionRef{}}
	reqMetadata := request{9, 1000000, 1002, []metadataEntry{
		{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		{"tenant", "ünïcode ✓"},
		{"empty", ""},
	}, "echo", pattern(16), "aeron:udp?endpoint=10.42.0.1:41000", regionRef{}}
	respOK := response{42, polybridge.ErrorCode_OK, "", []byte("pong"), regionRef{}}
	respErr := response{-42, polybridge.ErrorCode_HANDLER_ERROR, "handler failed: Ünïcödé ✓ 日本語 🚀", []byte{}, regionRef{}}
	annGo := Announcement{Language: polybridge.Language_GO, Pid: 4242, RequestStreamID: 2001,
		Handlers: []string{"echo", "wappalyzer.fingerprint"}, WorkerID: "go-0",
		RequestChannel: "aeron:udp?endpoint=10.42.0.2:40100", RegionID: 0x0000303A01020304}
	annEmpty := Announcement{Language: polybridge.Language_RUST, Handlers: []string{}}
	asAnnouncement := func(a Announcement) announcement {
		return announcement{schemaID, SchemaVersion, a.Language, a.Pid, a.RequestStreamID, a.Handlers, a.WorkerID, a.RequestChannel, a.RegionID}
	}
	decReq := func(t *testing.T, b []byte) any { return decodeRequest(t, b) }
	decResp := func(t *testing.T, b []byte) any {
		goldenHeader(t, b, polybridge.ResponseSbeTemplateID, polybridge.ResponseSbeBlockLength)
		r, err := decodeResponse(b)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	reqRegion := request{11, 2000000000, 1001, nil, "checksum", []byte{}, "", regionRef{0x000030392A2B2C2D, 12288, 8388608}}
	respRegion := response{11, polybridge.ErrorCode_OK, "", []byte{}, regionRef{0x0000303A01020304, 0, 8388608}}
	release := payloadRelease{correlationID: 11, replyStreamID: 1001, regionID: 0x0000303A01020304, regionOffset: 0}
	decRelease := func(t *testing.T, b []byte) any {
		goldenHeader(t, b, polybridge.PayloadReleaseSbeTemplateID, polybridge.PayloadReleaseSbeBlockLength)
		if len(b) != headerLength+releaseBlockLength {
			t.Fatalf("%d bytes, a PayloadRelease is %d", len(b), headerLength+releaseBlockLength)
		}
		return decodeRelease(b[headerLength:])
	}
	decAnn := func(t *testing.T, b []byte) any { return decodeAnnouncement(t, b) }
	decCancel := func(t *testing.T, b []byte) any { return decodeCancel(t, b) }
	return []goldenCase{
		{"request-echo.bin", func() []byte { return encodeRequest(reqEcho) }, decReq, reqEcho},
		{"request-empty.bin", func() []byte { return encodeRequest(reqEmpty) }, decReq, reqEmpty},
		{"request-large.bin", func() []byte { return encodeRequest(reqLarge) }, decReq, reqLarge},
		{"request-metadata.bin", func() []byte { return encodeRequest(reqMetadata) }, decReq, reqMetadata},
		{"response-ok.bin", func() []byte { return encodeResponse(respOK) }, decResp, respOK},
		{"response-error.bin", func() []byte { return encodeResponse(respErr) }, decResp, respErr},
		{"request-region.bin", func() []byte { return encodeRequest(reqRegion) }, decReq, reqRegion},
		{"response-region.bin", func() []byte { return encodeResponse(respRegion) }, decResp, respRegion},
		{"payload-release.bin", func() []byte { return encodeRelease(release) }, decRelease, release},
		{"cancel.bin", func() []byte { return encodeCancel(7, 1001) }, decCancel, cancel{7, 1001, ""}},
		{"cancel-udp.bin", func() []byte { return encodeCancelTo(7, 1001, "aeron:udp?endpoint=10.42.0.1:41000") }, decCancel,
			cancel{7, 1001, "aeron:udp?endpoint=10.42.0.1:41000"}},
		{"announcement-go.bin", func() []byte { return EncodeAnnouncement(annGo) }, decAnn, asAnnouncement(annGo)},
		{"announcement-empty.bin", func() []byte { return EncodeAnnouncement(annEmpty) }, decAnn, asAnnouncement(annEmpty)},
	}
}

func TestGoldenVectors(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.file, func(t *testing.T) {
			want := readGolden(t, tc.file)
			got := tc.encode()
			if !bytes.Equal(got, want) {
				at := 0
				for at < len(got) && at < len(want) && got[at] == want[at] {
					at++
				}
				t.Errorf("Go encodes %d bytes, file has %d; first difference at byte %d", len(got), len(want), at)
			}
			if decoded := tc.decode(t, want); !reflect.DeepEqual(decoded, tc.want) {
				t.Errorf("file decodes to %+v, want %+v", abbreviate(decoded), abbreviate(tc.want))
			}
		})
	}
}

// TestGoldenValuesRoundTrip checks the Go encoders and decoders agree with each other, so a
// golden mismatch points at the wire format rather than at this test's helpers.
func TestGoldenValuesRoundTrip(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.file, func(t *testing.T) {
			if decoded := tc.decode(t, tc.encode()); !reflect.DeepEqual(decoded, tc.want) {
				t.Errorf("round trip gives %+v, want %+v", abbreviate(decoded), abbreviate(tc.want))
			}
		})
	}
}

func abbreviate(v any) string {
	s := fmt.Sprintf("%+v", v)
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}
