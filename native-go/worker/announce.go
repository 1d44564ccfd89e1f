package worker

import (
	"github.com/polybridge/polybridge/codecs/go/polybridge"
)

// Announcement is what a worker tells clients about itself on the control stream.
type Announcement struct {
	Language        polybridge.Language
	Pid             int64
	RequestStreamID int32
	Handlers        []string
	WorkerID        string
	// RequestChannel is where clients publish this worker's requests (--advertised-request-channel);
	// "" means the channel the announcement was heard on.
	RequestChannel string
	// RegionID is the worker's response region (0: it lends no responses): clients send
	// PayloadRelease for responses lent there.
	RegionID int64
}

// EncodeAnnouncement returns header + WorkerAnnouncement, stamped with this build's schema id
// and version. Names must fit a varStringEncoding (Registry.Register ensures it for handlers).
func EncodeAnnouncement(a Announcement) []byte {
	size := headerLength + int(polybridge.WorkerAnnouncementSbeBlockLength) + 4 + 2 + len(a.WorkerID) + 2 + len(a.RequestChannel)
	for _, h := range a.Handlers {
		size += 2 + len(h)
	}
	buf := make([]byte, size)
	var m polybridge.WorkerAnnouncement
	m.WrapAndApplyHeader(buf, 0, uint64(size))
	m.SetSchemaId(schemaID).
		SetSchemaVersion(SchemaVersion).
		SetLanguage(a.Language).
		SetPid(a.Pid).
		SetRequestStreamId(a.RequestStreamID).
		SetRegionId(a.RegionID)
	group := m.HandlersCount(uint16(len(a.Handlers)))
	for _, h := range a.Handlers {
		group.Next().PutName(h)
	}
	m.PutWorkerId(a.WorkerID)
	m.PutRequestChannel(a.RequestChannel)
	return buf
}
