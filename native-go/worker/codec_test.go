package worker

import (
	"fmt"
	"testing"
	"unsafe"

	"github.com/polybridge/polybridge/codecs/go/polybridge"
)

// bytesAsString views b as a string for the generated Put* methods, which take strings.
func bytesAsString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

type request struct {
	correlationID int64
	timeoutNs     int64
	replyStreamID int32
	metadata      []metadataEntry // in wire order; nil or empty: none
	handler       string
	payload       []byte
	replyChannel  string    // "" for the worker's own channel
	region        regionRef // the payload's place in a request region (id 0: inline)
}

type metadataEntry struct{ key, value string }

func encodeRequest(r request) []byte {
	size := headerLength + requestBlockLength + groupHeaderLength + 2 + len(r.replyChannel) + 2 + len(r.handler) + 4 + len(r.payload)
	for _, e := range r.metadata {
		size += 2 + len(e.key) + 2 + len(e.value)
	}
	buf := make([]byte, size)
	var m polybridge.Request
	m.WrapAndApplyHeader(buf, 0, uint64(size))
	m.SetCorrelationId(r.correlationID).SetTimeoutNs(r.timeoutNs).SetReplyStreamId(r.replyStreamID).
		SetRegionId(r.region.id).SetRegionOffset(r.region.offset).SetRegionLength(r.region.length)
	g := m.MetadataCount(uint16(len(r.metadata)))
	for _, e := range r.metadata {
		g.Next().PutKey(e.key).PutValue(e.value)
	}
	m.PutReplyChannel(r.replyChannel)
	m.PutHandler(r.handler)
	m.PutPayload(bytesAsString(r.payload))
	return buf
}

func encodeCancel(correlationID int64, replyStreamID int32) []byte {
	return encodeCancelTo(correlationID, replyStreamID, "")
}

func encodeCancelTo(correlationID int64, replyStreamID int32, replyChannel string) []byte {
	buf := make([]byte, headerLength+cancelBlockLength+2+len(replyChannel))
	var m polybridge.Cancel
	m.WrapAndApplyHeader(buf, 0, uint64(len(buf)))
	m.SetCorrelationId(correlationID).SetReplyStreamId(replyStreamID)
	m.PutReplyChannel(replyChannel)
	return buf
}

type response struct {
	correlationID int64
	code          polybridge.ErrorCode
	message       string
	payload       []byte
	region        regionRef // the payload's place in the worker's response region (id 0: inline)
}

func encodeResponse(r response) []byte {
	size := responseFixedLength + len(r.message) + len(r.payload)
	buf := make([]byte, size)
	var m polybridge.Response
	m.WrapAndApplyHeader(buf, 0, uint64(size))
	m.SetCorrelationId(r.correlationID).SetErrorCode(r.code).
		SetRegionId(r.region.id).SetRegionOffset(r.region.offset).SetRegionLength(r.region.length)
	m.PutErrorMessage(r.message)
	m.PutPayload(bytesAsString(r.payload))
	return buf
}

// decodeResponse checks frame is exactly one well-formed Response and returns its values.
func decodeResponse(frame []byte) (response, error) {
	var hdr polybridge.MessageHeader
	if len(frame) < responseFixedLength {
		return response{}, fmt.Errorf("response frame of %d bytes is too short", len(frame))
	}
	hdr.Wrap(frame, 0, uint64(SchemaVersion), uint64(len(frame)))
	if hdr.SchemaId() != schemaID || hdr.Version() != SchemaVersion ||
		hdr.TemplateId() != polybridge.ResponseSbeTemplateID || hdr.BlockLength() != polybridge.ResponseSbeBlockLength {
		return response{}, fmt.Errorf("unexpected header %s", hdr.String())
	}
	var m polybridge.Response
	m.WrapForDecode(frame, uint64(headerLength), uint64(hdr.BlockLength()), uint64(hdr.Version()), uint64(len(frame)))
	r := response{correlationID: m.CorrelationId(), code: m.ErrorCode(),
		region: regionRef{m.RegionId(), m.RegionOffset(), m.RegionLength()}}
	if int(m.SbePosition())+2+int(m.ErrorMessageLength()) > len(frame) {
		return response{}, fmt.Errorf("error message length %d runs past the frame", m.ErrorMessageLength())
	}
	r.message = m.ErrorMessage()
	pos := int(m.SbePosition())
	if pos+4 > len(frame) || uint64(pos+4)+uint64(m.PayloadLength()) != uint64(len(frame)) {
		return response{}, fmt.Errorf("payload does not end the frame")
	}
	r.payload = []byte(m.Payload())
	return r, nil
}

func mustDecodeResponse(t testing.TB, frame []byte) response {
	t.Helper()
	r, err := decodeResponse(frame)
	if err != nil {
		t.Fatalf("reply is not a valid Response: %v", err)
	}
	return r
}

// pattern is the golden README's pattern(n): byte i is (i*31 + 7) & 0xFF.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + 7)
	}
	return b
}

// encodeRelease encodes a PayloadRelease with the generated codec, as a client does.
func encodeRelease(r payloadRelease) []byte {
	buf := make([]byte, headerLength+releaseBlockLength)
	var m polybridge.PayloadRelease
	m.WrapAndApplyHeader(buf, 0, uint64(len(buf)))
	m.SetCorrelationId(r.correlationID).SetReplyStreamId(r.replyStreamID).SetRegionId(r.regionID).SetRegionOffset(r.regionOffset)
	return buf
}
