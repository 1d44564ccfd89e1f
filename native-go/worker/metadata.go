package worker

import (
	"context"
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// Limits on Request.metadata, the same in every language (docs/protocol.md): a frame beyond
// them is answered BAD_REQUEST before any handler runs.
const (
	MaxMetadataEntries     = 32   // entries in one request
	MaxMetadataKeyLength   = 128  // bytes of UTF-8; keys are at least 1 byte and unique
	MaxMetadataValueLength = 4096 // bytes of UTF-8; values may be empty
)

// groupHeaderLength is the size of groupSizeEncoding: blockLength and numInGroup, two uint16.
const groupHeaderLength = 4

// Metadata returns the caller's metadata of the request ctx belongs to (Request.metadata, e.g.
// a W3C traceparent), or nil when the request carries none or ctx did not come from a worker.
// The map belongs to the request: a handler may read it from any goroutine while it serves
// the request.
func Metadata(ctx context.Context) map[string]string {
	if p, ok := ctx.Value(requestInfoKey{}).(*requestState); ok && p != nil {
		return p.metadata
	}
	return nil
}

// decodeMetadata reads the metadata group of a Request starting at pos. It returns the entries
// (nil when there are none, so a request without metadata allocates nothing), the position
// after the group, and a non-empty message when the group is malformed or breaks the limits.
// Every length is checked against the frame before it is used.
func decodeMetadata(msg []byte, pos int) (map[string]string, int, string) {
	n := len(msg)
	if n-pos < groupHeaderLength {
		return nil, pos, "frame ends inside the metadata group header"
	}
	blockLength := binary.LittleEndian.Uint16(msg[pos:])
	count := int(binary.LittleEndian.Uint16(msg[pos+2:]))
	pos += groupHeaderLength
	if blockLength != 0 {
		return nil, pos, fmt.Sprintf("metadata entries have block length %d, expected 0", blockLength)
	}
	if count > MaxMetadataEntries {
		return nil, pos, fmt.Sprintf("%d metadata entries; at most %d are allowed", count, MaxMetadataEntries)
	}
	if count == 0 {
		return nil, pos, ""
	}
	metadata := make(map[string]string, count)
	for i := range count {
		key, next, problem := readMetadataString(msg, pos, i, "key")
		if problem != "" {
			return nil, pos, problem
		}
		value, after, problem := readMetadataString(msg, next, i, "value")
		if problem != "" {
			return nil, pos, problem
		}
		pos = after
		switch {
		case len(key) == 0:
			return nil, pos, fmt.Sprintf("metadata entry %d has an empty key", i)
		case len(key) > MaxMetadataKeyLength:
			return nil, pos, fmt.Sprintf("metadata key of %d bytes (entry %d); at most %d are allowed", len(key), i, MaxMetadataKeyLength)
		case len(value) > MaxMetadataValueLength:
			return nil, pos, fmt.Sprintf("metadata value of %d bytes for key %q; at most %d are allowed", len(value), key, MaxMetadataValueLength)
		}
		if _, dup := metadata[key]; dup {
			return nil, pos, fmt.Sprintf("metadata key %q appears twice", key)
		}
		metadata[key] = value
	}
	return metadata, pos, ""
}

// readMetadataString reads one varStringEncoding (uint16 length, then UTF-8 bytes) at pos and
// copies it: the frame is a view of the term buffer, the map outlives it.
func readMetadataString(msg []byte, pos, entry int, what string) (string, int, string) {
	if len(msg)-pos < 2 {
		return "", pos, fmt.Sprintf("frame ends inside the length of metadata %s %d", what, entry)
	}
	length := int(binary.LittleEndian.Uint16(msg[pos:]))
	pos += 2
	if length > len(msg)-pos {
		return "", pos, fmt.Sprintf("metadata %s %d has length %d, past the frame (%d bytes left)", what, entry, length, len(msg)-pos)
	}
	b := msg[pos : pos+length]
	if !utf8.Valid(b) {
		return "", pos, fmt.Sprintf("metadata %s %d is not valid UTF-8", what, entry)
	}
	return string(b), pos + length, ""
}
