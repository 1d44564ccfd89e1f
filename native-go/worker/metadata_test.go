package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/polybridge/polybridge/codecs/go/polybridge"
)

// metadataEcho answers with the request's metadata as JSON, so a test sees what the handler saw.
var metadataEcho = HandlerFunc(func(ctx context.Context, _ []byte) ([]byte, error) {
	return json.Marshal(Metadata(ctx))
})

func metadataRegistry(t testing.TB) *Registry {
	t.Helper()
	r := NewRegistry()
	if err := r.Register("metadata", metadataEcho); err != nil {
		t.Fatal(err)
	}
	if err := r.RegisterInline("metadata.inline", metadataEcho); err != nil {
		t.Fatal(err)
	}
	return r
}

func metadataFrame(handler string, entries ...metadataEntry) []byte {
	return encodeRequest(request{correlationID: 77, replyStreamID: 1001, metadata: entries, handler: handler, payload: []byte("x")})
}

func entries(n int) []metadataEntry {
	e := make([]metadataEntry, n)
	for i := range e {
		e[i] = metadataEntry{fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)}
	}
	return e
}

// Handlers on the pool, inline and through Dispatch all see the request's metadata.
func TestHandlersSeeTheRequestMetadata(t *testing.T) {
	sent := []metadataEntry{{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}, {"tenant", "ünïcode ✓"}, {"empty", ""}}
	want := map[string]string{"traceparent": sent[0].value, "tenant": sent[1].value, "empty": ""}
	for _, handler := range []string{"metadata", "metadata.inline"} {
		t.Run(handler, func(t *testing.T) {
			reply, ok := NewDispatcher(metadataRegistry(t), nil).Dispatch(metadataFrame(handler, sent...))
			checkMetadataReply(t, "Dispatch", reply, ok, want)

			h := newPoolHarness(t, metadataRegistry(t), 1, 1)
			h.pool.OnMessage(metadataFrame(handler, sent...))
			h.await(1)
			var got map[string]string
			if err := json.Unmarshal(h.replies[0].payload, &got); err != nil || !maps.Equal(got, want) {
				t.Errorf("Pool: handler saw %s (%v), want %v", h.replies[0].payload, err, want)
			}
		})
	}
}

func TestMetadataIsNilWithoutEntries(t *testing.T) {
	reply, ok := NewDispatcher(metadataRegistry(t), nil).Dispatch(metadataFrame("metadata"))
	if !ok || string(mustDecodeResponse(t, reply.Frame).payload) != "null" {
		t.Fatalf("want null metadata, got %+v", mustDecodeResponse(t, reply.Frame))
	}
	if Metadata(context.Background()) != nil {
		t.Error("a context from outside a worker has metadata")
	}
}

func checkMetadataReply(t *testing.T, path string, reply Reply, ok bool, want map[string]string) {
	t.Helper()
	if !ok {
		t.Fatalf("%s: no reply", path)
	}
	r := mustDecodeResponse(t, reply.Frame)
	var got map[string]string
	if err := json.Unmarshal(r.payload, &got); r.code != polybridge.ErrorCode_OK || err != nil || !maps.Equal(got, want) {
		t.Errorf("%s: %v %q, handler saw %s, want %v", path, r.code, r.message, r.payload, want)
	}
}

// Frames breaking the limits or lying about a length are answered BAD_REQUEST before the
// handler runs; frames at the limits are served.
func TestMetadataLimits(t *testing.T) {
	const groupAt = headerLength + requestBlockLength
	tests := []struct {
		name        string
		frame       []byte
		wantMessage string // empty: served
	}{
		{"32 entries are served", metadataFrame("metadata", entries(32)...), ""},
		{"a 128-byte key and a 4096-byte value are served",
			metadataFrame("metadata", metadataEntry{strings.Repeat("k", 128), strings.Repeat("v", 4096)}), ""},
		{"33 entries", metadataFrame("metadata", entries(33)...), "33 metadata entries; at most 32"},
		{"an empty key", metadataFrame("metadata", metadataEntry{"", "v"}), "metadata entry 0 has an empty key"},
		{"a 129-byte key", metadataFrame("metadata", metadataEntry{strings.Repeat("k", 129), ""}), "metadata key of 129 bytes"},
		{"a 4097-byte value", metadataFrame("metadata", metadataEntry{"k", strings.Repeat("v", 4097)}), "metadata value of 4097 bytes"},
		{"a duplicate key", metadataFrame("metadata", metadataEntry{"a", "1"}, metadataEntry{"a", "2"}), `metadata key "a" appears twice`},
		{"a key that is not UTF-8", metadataFrame("metadata", metadataEntry{"\xff", ""}), "metadata key 0 is not valid UTF-8"},
		{"a value that is not UTF-8", metadataFrame("metadata", metadataEntry{"k", "\xc3"}), "metadata value 0 is not valid UTF-8"},
		{"a lying value length", put16(metadataFrame("metadata", metadataEntry{"k", "v"}), groupAt+groupHeaderLength+2+1, 60000),
			"metadata value 0 has length 60000, past the frame"},
		// The empty reply channel's zero length that follows the group reads as entry 0's key.
		{"a count with no entries behind it", put16(metadataFrame("metadata"), groupAt+2, 3),
			"metadata entry 0 has an empty key"},
		{"an entry block length", put16(metadataFrame("metadata"), groupAt, 4), "metadata entries have block length 4, expected 0"},
		{"a frame ending in the group header", metadataFrame("metadata")[:groupAt+3], "frame ends inside the metadata group header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDispatcher(metadataRegistry(t), nil)
			reply, ok := d.Dispatch(tc.frame)
			if !ok {
				t.Fatal("no reply")
			}
			r := mustDecodeResponse(t, reply.Frame)
			if tc.wantMessage == "" {
				if r.code != polybridge.ErrorCode_OK {
					t.Fatalf("%v %q, want OK", r.code, r.message)
				}
				return
			}
			if r.code != polybridge.ErrorCode_BAD_REQUEST || !strings.Contains(r.message, tc.wantMessage) {
				t.Errorf("%v %q, want BAD_REQUEST containing %q", r.code, r.message, tc.wantMessage)
			}
			if d.Counters.MalformedReplied.Load() != 1 || d.Counters.Requests.Load() != 0 {
				t.Errorf("counted %+v, want one malformed frame and no request", d.Counters)
			}
		})
	}
}
