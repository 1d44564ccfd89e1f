package worker

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/polybridge/polybridge/codecs/go/polybridge"
)

// malformedDir holds the malformed-frame cases shared with the Rust worker's tests.
var malformedDir = filepath.Join("..", "..", "schema", "malformed")

var writeMalformed = flag.Bool("malformed.write", false, "rewrite ../../schema/malformed from malformedCases")

// Every answerable case carries correlation id 77 and reply stream 1001.
const malformedCorrelationID, malformedReplyStream = 77, 1001

type malformedCase struct {
	file, expected, what string
	frame                []byte
	// replyChannel is the channel a BAD_REQUEST goes to ("": the worker's own). Only a frame
	// whose replyChannel was read and is valid is answered there; the manifest does not carry
	// it (docs/protocol.md states the rule), the Go tests check it.
	replyChannel string
}

// malformedUDPReply is the valid reply channel of the cases answered on the caller's channel.
const malformedUDPReply = "aeron:udp?endpoint=10.42.0.1:41000"

func malformedCases() []malformedCase {
	ping := func() []byte {
		return encodeRequest(request{correlationID: malformedCorrelationID, replyStreamID: malformedReplyStream, handler: "echo", payload: []byte("ping")})
	}
	withMetadata := func(entries ...metadataEntry) []byte {
		return encodeRequest(request{correlationID: malformedCorrelationID, replyStreamID: malformedReplyStream, metadata: entries, handler: "echo", payload: []byte("ping")})
	}
	tooMany := make([]metadataEntry, MaxMetadataEntries+1)
	for i := range tooMany {
		tooMany[i] = metadataEntry{fmt.Sprintf("key-%d", i), "v"}
	}
	withReplyChannel := func(channel string) []byte {
		return encodeRequest(request{correlationID: malformedCorrelationID, replyStreamID: malformedReplyStream, replyChannel: channel, handler: "echo", payload: []byte("ping")})
	}
	cancel := func() []byte { return encodeCancel(malformedCorrelationID, malformedReplyStream) }
	release := func() []byte {
		return encodeRelease(payloadRelease{correlationID: malformedCorrelationID, replyStreamID: malformedReplyStream, regionID: 0x0000303A01020304})
	}
	regionAndInline := encodeRequest(request{correlationID: malformedCorrelationID, replyStreamID: malformedReplyStream, handler: "echo",
		payload: []byte("ping"), region: regionRef{0x0000303A01020304, 0, 4}})
	cancelTo := func(channel string) []byte {
		return encodeCancelTo(malformedCorrelationID, malformedReplyStream, channel)
	}
	const groupAt = headerLength + requestBlockLength
	const payloadLengthAt = handlerLengthAt + 2 + 4 // after "echo"
	// A 257-byte reply channel that breaks no rule but its length: a host name of 232 bytes.
	longHost := strings.Repeat(strings.Repeat("a", 57)+".", 4)[:231] + "b"
	tooLong := "aeron:udp?endpoint=" + longHost + ":41000"
	udpHandlerLengthAt := handlerLengthAt + len(malformedUDPReply)
	return []malformedCase{
		{"empty.bin", "dropped", "zero bytes", []byte{}, ""},
		{"truncated-header.bin", "dropped", "5 bytes: the 8-byte message header is cut short", ping()[:5], ""},
		{"header-only.bin", "dropped", "a Request header and nothing else: no correlation id to answer", ping()[:headerLength], ""},
		{"wrong-schema-id.bin", "dropped", "schema id 7102 instead of 7101: another schema's bytes say nothing about correlation ids", put16(ping(), 4, 7102), ""},
		{"unknown-template.bin", "dropped", "template id 99, not a Request (1), Cancel (3) or PayloadRelease (5)", put16(ping(), 2, 99), ""},
		{"response-as-request.bin", "dropped", "a well-formed Response (template 2) sent to a worker", encodeResponse(response{correlationID: malformedCorrelationID, code: polybridge.ErrorCode_OK, payload: []byte("x")}), ""},
		{"truncated-block.bin", "dropped", "Request cut 18 bytes into its 44-byte block: the reply stream id is incomplete", ping()[:headerLength+18], ""},
		{"wrong-version.bin", "BAD_REQUEST", "schema version 1 in the header (this worker speaks 3)", put16(ping(), 6, 1), ""},
		{"wrong-block-length.bin", "BAD_REQUEST", "header block length 24 for a version-3 Request (44)", put16(ping(), 0, 24), ""},
		{"truncated-metadata-header.bin", "BAD_REQUEST", "frame ends 3 bytes into the metadata group's 4-byte header", ping()[:groupAt+3], ""},
		{"metadata-block-length.bin", "BAD_REQUEST", "metadata group block length 4; its entries have no fixed fields (0)", put16(ping(), groupAt, 4), ""},
		{"metadata-too-many-entries.bin", "BAD_REQUEST", "33 metadata entries, over the limit of 32", withMetadata(tooMany...), ""},
		{"metadata-lying-count.bin", "BAD_REQUEST", "metadata count 3 where the frame holds none: the bytes after it read as entries run past the frame", put16(ping(), groupAt+2, 3), ""},
		{"metadata-empty-key.bin", "BAD_REQUEST", "a metadata entry with an empty key", withMetadata(metadataEntry{"", "v"}), ""},
		{"metadata-duplicate-key.bin", "BAD_REQUEST", "metadata key \"tenant\" twice", withMetadata(metadataEntry{"tenant", "a"}, metadataEntry{"tenant", "b"}), ""},
		{"metadata-key-too-long.bin", "BAD_REQUEST", "a 129-byte metadata key (at most 128)", withMetadata(metadataEntry{strings.Repeat("k", MaxMetadataKeyLength+1), ""}), ""},
		{"metadata-value-too-long.bin", "BAD_REQUEST", "a 4097-byte metadata value (at most 4096)", withMetadata(metadataEntry{"k", strings.Repeat("v", MaxMetadataValueLength+1)}), ""},
		{"metadata-key-not-utf8.bin", "BAD_REQUEST", "a metadata key holding the byte 0xFF, not UTF-8", withMetadata(metadataEntry{"\xff", "v"}), ""},
		{"metadata-lying-value-length.bin", "BAD_REQUEST", "metadata value length 60000 with 17 bytes left in the frame", put16(withMetadata(metadataEntry{"k", "v"}), groupAt+groupHeaderLength+2+1, 60000), ""},
		{"truncated-handler-length.bin", "BAD_REQUEST", "frame ends one byte into the handler name's 2-byte length", ping()[:handlerLengthAt+1], ""},
		{"lying-handler-length.bin", "BAD_REQUEST", "handler name length 500 with 12 bytes left in the frame", put16(ping(), handlerLengthAt, 500), ""},
		{"handler-length-over-max.bin", "BAD_REQUEST", "handler name length 65535, over the schema's 65534 and past the frame", put16(ping(), handlerLengthAt, 0xFFFF), ""},
		{"truncated-payload-length.bin", "BAD_REQUEST", "frame ends two bytes into the payload's 4-byte length", ping()[:payloadLengthAt+2], ""},
		{"lying-payload-length.bin", "BAD_REQUEST", "payload length 0xFFFFFFFF with 4 bytes left", put32(ping(), payloadLengthAt, 0xFFFFFFFF), ""},
		{"truncated-payload.bin", "BAD_REQUEST", "payload length 4, frame ends after 2 payload bytes", ping()[:payloadLengthAt+4+2], ""},
		{"trailing-garbage.bin", "BAD_REQUEST", "a valid echo Request followed by 3 extra bytes", append(ping(), 0xDE, 0xAD, 0xBE), ""},
		{"short-payload-length.bin", "BAD_REQUEST", "payload length 1 where 4 payload bytes follow (3 bytes after the payload)", put32(ping(), payloadLengthAt, 1), ""},
		{"cancel-too-short.bin", "dropped", "Cancel cut 10 bytes into its 12-byte block: the reply stream id is incomplete", cancel()[:headerLength+10], ""},
		{"cancel-trailing-bytes.bin", "BAD_REQUEST", "a valid Cancel followed by 4 extra bytes", append(cancel(), 1, 2, 3, 4), ""},
		{"cancel-wrong-version.bin", "BAD_REQUEST", "Cancel with schema version 9", put16(cancel(), 6, 9), ""},
		{"cancel-wrong-block-length.bin", "BAD_REQUEST", "Cancel with block length 16 (version 3: 12)", put16(cancel(), 0, 16), ""},
		{"truncated-reply-channel-length.bin", "BAD_REQUEST", "frame ends one byte into the reply channel's 2-byte length", ping()[:replyChannelAt+1], ""},
		{"lying-reply-channel-length.bin", "BAD_REQUEST", "reply channel length 500 with 14 bytes left in the frame", put16(ping(), replyChannelAt, 500), ""},
		{"reply-channel-ipc.bin", "BAD_REQUEST", "reply channel \"aeron:ipc\": only aeron:udp?endpoint=HOST:PORT is accepted", withReplyChannel("aeron:ipc"), ""},
		{"reply-channel-extra-params.bin", "BAD_REQUEST", "reply channel \"aeron:udp?endpoint=x:1|term-length=64k\": a frame may not choose parameters", withReplyChannel("aeron:udp?endpoint=x:1|term-length=64k"), ""},
		{"reply-channel-port-zero.bin", "BAD_REQUEST", "reply channel \"aeron:udp?endpoint=10.42.0.1:0\": port 0", withReplyChannel("aeron:udp?endpoint=10.42.0.1:0"), ""},
		{"reply-channel-no-port.bin", "BAD_REQUEST", "reply channel \"aeron:udp?endpoint=10.42.0.1\": no port", withReplyChannel("aeron:udp?endpoint=10.42.0.1"), ""},
		{"reply-channel-too-long.bin", "BAD_REQUEST", "a 257-byte reply channel (at most 256), valid otherwise", withReplyChannel(tooLong), ""},
		{"reply-channel-not-utf8.bin", "BAD_REQUEST", "a reply channel holding the byte 0xFF in its host", withReplyChannel("aeron:udp?endpoint=\xff:41000"), ""},
		{"udp-reply-lying-handler-length.bin", "BAD_REQUEST", "valid reply channel " + malformedUDPReply + ", then handler name length 500 past the frame: answered on that channel",
			put16(withReplyChannel(malformedUDPReply), udpHandlerLengthAt, 500), malformedUDPReply},
		{"cancel-no-reply-channel.bin", "BAD_REQUEST", "Cancel of its 12-byte block only: the reply channel's length is missing", cancel()[:headerLength+cancelBlockLength], ""},
		{"cancel-lying-reply-channel-length.bin", "BAD_REQUEST", "Cancel whose reply channel length 300 runs past the frame", put16(cancel(), headerLength+cancelBlockLength, 300), ""},
		{"cancel-reply-channel-ipc.bin", "BAD_REQUEST", "Cancel naming reply channel \"aeron:ipc\"", cancelTo("aeron:ipc"), ""},
		{"cancel-udp-trailing-bytes.bin", "BAD_REQUEST", "a valid Cancel with reply channel " + malformedUDPReply + " followed by 2 extra bytes: answered on that channel",
			append(cancelTo(malformedUDPReply), 1, 2), malformedUDPReply},
		{"release-too-short.bin", "dropped", "PayloadRelease cut 20 bytes into its 28-byte block: never answered", release()[:headerLength+20], ""},
		{"release-trailing-bytes.bin", "dropped", "a PayloadRelease followed by 2 extra bytes: never answered", append(release(), 1, 2), ""},
		{"release-wrong-version.bin", "dropped", "PayloadRelease with schema version 2: never answered", put16(release(), 6, 2), ""},
		{"release-wrong-block-length.bin", "dropped", "PayloadRelease with block length 20 (28)", put16(release(), 0, 20), ""},
		{"region-ref-and-inline-payload.bin", "BAD_REQUEST", "a Request naming payload region 0x0000303A01020304 [0, 4) that carries 4 inline payload bytes too", regionAndInline, ""},
	}
}

// TestWriteMalformedCases rewrites the shared files: go test -run TestWriteMalformedCases ./worker -malformed.write
func TestWriteMalformedCases(t *testing.T) {
	if !*writeMalformed {
		t.Skip("pass -malformed.write to rewrite ../schema/malformed")
	}
	if err := os.MkdirAll(malformedDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var manifest strings.Builder
	manifest.WriteString("file\texpected\twhat\n")
	for _, c := range malformedCases() {
		if err := os.WriteFile(filepath.Join(malformedDir, c.file), c.frame, 0o644); err != nil {
			t.Fatal(err)
		}
		manifest.WriteString(c.file + "\t" + c.expected + "\t" + c.what + "\n")
	}
	if err := os.WriteFile(filepath.Join(malformedDir, "manifest.tsv"), []byte(manifest.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

type malformedEntry struct{ file, expected string }

func readMalformedManifest(t testing.TB) []malformedEntry {
	t.Helper()
	f, err := os.Open(filepath.Join(malformedDir, "manifest.tsv"))
	if err != nil {
		t.Fatalf("shared malformed cases missing (%v): rewrite them with go test -run TestWriteMalformedCases ./worker -malformed.write", err)
	}
	defer f.Close()
	var entries []malformedEntry
	s := bufio.NewScanner(f)
	for first := true; s.Scan(); first = false {
		fields := strings.Split(s.Text(), "\t")
		if first || len(fields) < 2 {
			continue
		}
		entries = append(entries, malformedEntry{fields[0], fields[1]})
	}
	if len(entries) == 0 {
		t.Fatal("manifest.tsv lists no cases")
	}
	return entries
}

func TestMalformedFilesMatchTheirDefinitions(t *testing.T) {
	onDisk := readMalformedManifest(t)
	cases := malformedCases()
	if len(onDisk) != len(cases) {
		t.Fatalf("manifest lists %d cases, malformedCases %d: rewrite with -malformed.write", len(onDisk), len(cases))
	}
	for i, c := range cases {
		b, err := os.ReadFile(filepath.Join(malformedDir, c.file))
		if err != nil || !slices.Equal(b, c.frame) || onDisk[i] != (malformedEntry{c.file, c.expected}) {
			t.Errorf("%s differs from its definition (%v): rewrite with -malformed.write", c.file, err)
		}
	}
}

// Each shared case through the dispatcher and through the pool the worker uses: the expected
// outcome, a well-formed reply to correlation 77 on stream 1001 when there is one, and the
// worker still serving after it.
func TestMalformedFramesHaveTheirExpectedOutcome(t *testing.T) {
	replyChannels := make(map[string]string)
	for _, c := range malformedCases() {
		replyChannels[c.file] = c.replyChannel
	}
	for _, e := range readMalformedManifest(t) {
		wantChannel := replyChannels[e.file]
		t.Run(e.file, func(t *testing.T) {
			frame, err := os.ReadFile(filepath.Join(malformedDir, e.file))
			if err != nil {
				t.Fatal(err)
			}
			d := NewDispatcher(testRegistry(t), nil)
			reply, ok := d.Dispatch(frame)
			checkMalformedOutcome(t, "Dispatch", e.expected, wantChannel, reply, ok)
			if d.Counters.MalformedReplied.Load()+d.Counters.MalformedDropped.Load()+d.Counters.BadRegionRefs.Load() != 1 {
				t.Errorf("not counted as malformed: %+v", d.Counters)
			}

			h := newPoolHarness(t, testRegistry(t), 1, 1)
			var replies []Reply
			h.pool.publish = func(r Reply) {
				replies = append(replies, Reply{Channel: r.Channel, StreamID: r.StreamID, CorrelationID: r.CorrelationID, Frame: slices.Clone(r.Frame)})
			}
			h.pool.OnMessage(frame)
			if len(replies) > 1 {
				t.Fatalf("pool sent %d replies", len(replies))
			}
			var first Reply
			if len(replies) == 1 {
				first = replies[0]
			}
			checkMalformedOutcome(t, "Pool", e.expected, wantChannel, first, len(replies) == 1)
			var after []response
			h.pool.publish = func(r Reply) { after = append(after, mustDecodeResponse(t, r.Frame)) }
			h.pool.OnMessage(echoFrame([]byte("after"))) // echo is pooled in testRegistry
			for h.pool.InHand() > 0 {
				<-h.pool.Wake()
				h.pool.Drain()
			}
			if len(after) != 1 || after[0].code != polybridge.ErrorCode_OK || string(after[0].payload) != "after" {
				t.Errorf("the next request was not served: %+v", after)
			}
		})
	}
}

func checkMalformedOutcome(t *testing.T, path, expected, wantChannel string, reply Reply, ok bool) {
	t.Helper()
	switch expected {
	case "dropped":
		if ok {
			t.Errorf("%s answered a frame that should be dropped", path)
		}
	case "BAD_REQUEST":
		if !ok {
			t.Fatalf("%s dropped a frame that should be answered BAD_REQUEST", path)
		}
		got := mustDecodeResponse(t, reply.Frame)
		if got.code != polybridge.ErrorCode_BAD_REQUEST || got.correlationID != malformedCorrelationID ||
			reply.StreamID != malformedReplyStream || got.message == "" || reply.Channel != wantChannel {
			t.Errorf("%s: %v %q for %d on %q stream %d, want BAD_REQUEST with a message for 77 on %q 1001",
				path, got.code, got.message, got.correlationID, reply.Channel, reply.StreamID, wantChannel)
		}
	default:
		t.Fatalf("unknown expected outcome %q", expected)
	}
}
