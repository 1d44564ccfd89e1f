package worker

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/polybridge/polybridge/codecs/go/polybridge"
)

// Payload region defaults (docs/protocol.md), the same flags and defaults as the Rust worker.
const (
	DefaultPayloadRegionMiB     = 256
	DefaultMaxMessageMiB        = 64
	DefaultPayloadLoanThreshold = 64 * 1024
	// MaxMessageMiBLimit is the largest --max-message-mib (and --payload-region-mib): 1 GiB,
	// the most a varData length or a region's data area holds.
	MaxMessageMiBLimit = 1024
)

// regionRef is a payload in a region: regionId, regionOffset, regionLength on the wire.
type regionRef struct{ id, offset, length int64 }

// payloadRelease is a decoded PayloadRelease.
type payloadRelease struct {
	correlationID int64
	replyStreamID int32
	regionID      int64
	regionOffset  int64
}

// decodeRelease reads a PayloadRelease block (offsets fixed by the schema).
func decodeRelease(block []byte) payloadRelease {
	return payloadRelease{
		correlationID: int64(binary.LittleEndian.Uint64(block[0:])),
		replyStreamID: int32(binary.LittleEndian.Uint32(block[8:])),
		regionID:      int64(binary.LittleEndian.Uint64(block[12:])),
		regionOffset:  int64(binary.LittleEndian.Uint64(block[20:])),
	}
}

// loanOwner is the reply a loan of the response region was made for.
type loanOwner struct {
	correlationID int64
	replyStreamID int32
}

// payloads is a worker's side of payload regions: it reads request payloads in place in its
// clients' regions (maps), and lends large responses in its own response region (region)
// until the client releases them.
//
// Threading: encode runs on pool goroutines too (region is locked); everything else (maps,
// loans) on the poll goroutine only.
type payloads struct {
	counters   *Counters
	log        *slog.Logger
	maxMessage int  // a handler result longer than this is TOO_LARGE
	threshold  int  // responses of at least this many bytes are lent; 0: never
	requestIPC bool // region references are accepted (shared memory is one host's)
	replyIPC   bool // replies on the worker's own channel go through shared memory
	maps       *regionMaps
	region     *region             // nil: the worker lends no responses
	loans      map[int64]loanOwner // by offset in region
	loggedFail atomic.Bool         // a failure to create the region has been logged
}

// newPayloads returns the settings of a Dispatcher without a worker: no regions.
func newPayloads(counters *Counters) *payloads {
	return &payloads{counters: counters, log: slog.Default(), maxMessage: DefaultMaxMessageMiB << 20, loans: map[int64]loanOwner{}}
}

// read resolves f's region reference: on success f.payload is a view of the client's region
// and f.mapping is in hand; otherwise the BAD_REQUEST message.
func (p *payloads) read(f *decodedFrame) string {
	switch {
	case p.maps == nil:
		return "this worker reads no payload regions: send the payload inline"
	case !p.requestIPC:
		return "a payload region reference arrived on a non-IPC request channel: regions are shared memory on one host, send the payload inline"
	case len(f.payload) != 0:
		return fmt.Sprintf("the request refers to payload region %016x and carries %d inline payload bytes too: one or the other", uint64(f.region.id), len(f.payload))
	}
	payload, mapping, err := p.maps.payload(f.region.id, f.region.offset, f.region.length)
	if err != nil {
		return err.Error()
	}
	f.payload, f.mapping = payload, mapping
	p.counters.LoanedRequests.Add(1)
	return ""
}

// doneReading says nothing reads a request's mapping any more (nil: an inline payload).
func (p *payloads) doneReading(m *mappedRegion) {
	if m != nil {
		p.maps.done(m)
	}
}

// shouldLend says whether a response payload of n bytes to replyChannel goes into a loan.
func (p *payloads) shouldLend(n int, replyChannel string) bool {
	return p.region != nil && p.threshold > 0 && n >= p.threshold && replyChannel == "" && p.replyIPC
}

// encode writes the response into buf: its payload copied once into a loan of the response
// region when it is large and goes to the worker's own IPC channel (loan then says where),
// inline otherwise. When the loan cannot be made (region full, or not created) the payload
// goes inline and overloaded is the message to answer instead if it does not fit the reply
// stream. Safe on any goroutine; the caller records the loan (lent) on the poll goroutine.
func (p *payloads) encode(buf []byte, correlationID int64, replyChannel string, code polybridge.ErrorCode, message string, payload []byte) (frame []byte, loan regionRef, overloaded string) {
	if !p.shouldLend(len(payload), replyChannel) {
		return writeResponse(buf, correlationID, code, message, payload), regionRef{}, ""
	}
	offset, dst, err := p.region.loan(int64(len(payload)))
	if err != nil {
		p.counters.RegionFull.Add(1)
		if _, full := err.(*regionFullError); !full && p.loggedFail.CompareAndSwap(false, true) {
			p.log.Warn("large responses go inline: the payload region cannot be created", "err", err)
		}
		overloaded = fmt.Sprintf("response of %d bytes: %v; responses wait for the client to release them (or lower the load, or raise --payload-region-mib)", len(payload), err)
		return writeResponse(buf, correlationID, code, message, payload), regionRef{}, overloaded
	}
	copy(dst, payload)
	p.counters.LoanedResponses.Add(1)
	loan = regionRef{id: p.region.id, offset: offset, length: int64(len(payload))}
	return writeResponseRef(buf, correlationID, code, message, nil, loan), loan, ""
}

// lent records that loan (id 0: none) holds the response to correlationID on replyStreamID.
func (p *payloads) lent(loan regionRef, correlationID int64, replyStreamID int32) {
	if loan.id != 0 {
		p.loans[loan.offset] = loanOwner{correlationID, replyStreamID}
	}
}

// release gives back the loan a PayloadRelease names, if it names one exactly.
func (p *payloads) release(r payloadRelease) {
	owner, ok := p.loans[r.regionOffset]
	if p.region == nil || r.regionID != p.region.id || !ok ||
		owner != (loanOwner{r.correlationID, r.replyStreamID}) {
		p.counters.BadReleases.Add(1)
		return
	}
	p.counters.LoanReleases.Add(1) // before the free: whoever sees the bytes freed sees the count
	p.free(r.regionOffset)
}

// dropped gives back the loan of a reply that was never published (id 0: none).
func (p *payloads) dropped(loan regionRef) {
	if loan.id != 0 && p.region != nil && loan.id == p.region.id {
		if _, ok := p.loans[loan.offset]; ok {
			p.free(loan.offset)
		}
	}
}

// streamClosed gives back every loan to replyStreamID on the worker's own channel: its reply
// publication was closed for having no subscriber, so its client is gone.
func (p *payloads) streamClosed(replyStreamID int32) {
	for offset, owner := range p.loans {
		if owner.replyStreamID == replyStreamID {
			p.free(offset)
		}
	}
}

func (p *payloads) free(offset int64) {
	delete(p.loans, offset)
	p.region.release(offset)
}

// regionID is what the announcement carries: the response region's id, 0 when there is none.
func (p *payloads) regionID() int64 {
	if p.region == nil {
		return 0
	}
	return p.region.id
}
