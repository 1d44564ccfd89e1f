package worker

import (
	"errors"
	"fmt"
	"syscall"
	"time"
)

// regionSweepInterval: mappings whose file is gone are looked for at most this often.
const regionSweepInterval = time.Second

// mappedRegion is a client's request region mapped read-only.
type mappedRegion struct {
	id         int64
	path       string
	mem        []byte
	dataLength int64
	dev, ino   uint64
	inHand     int // requests queued or running that read it: it is not unmapped meanwhile
}

// regionMaps maps the request regions requests refer to, read-only, one mapping per regionId.
// Used only by the poll goroutine (a handler reads its payload but never touches the map).
type regionMaps struct {
	dir       string
	byID      map[int64]*mappedRegion
	lastSweep time.Time
}

func newRegionMaps(dir string) *regionMaps {
	return &regionMaps{dir: dir, byID: map[int64]*mappedRegion{}}
}

// payload returns the bytes [offset, offset+length) of region id's data area, in place, and
// the mapping, with one more request in hand; done must be called once nothing reads them.
// The error says what is wrong with the reference (a BAD_REQUEST message).
func (m *regionMaps) payload(id, offset, length int64) ([]byte, *mappedRegion, error) {
	r, ok := m.byID[id]
	if !ok {
		var err error
		if r, err = m.open(id); err != nil {
			return nil, nil, err
		}
		m.byID[id] = r
	}
	if offset < 0 || length < 0 || offset > r.dataLength-length {
		return nil, nil, fmt.Errorf("payload region reference [%d, %d+%d) is out of the bounds of %s (%d data bytes)",
			offset, offset, length, r.path, r.dataLength)
	}
	r.inHand++
	start := regionHeaderLength + offset
	return r.mem[start : start+length : start+length], r, nil
}

// done says a request reading r is finished.
func (m *regionMaps) done(r *mappedRegion) {
	if r != nil {
		r.inHand--
	}
}

// open maps region id read-only after checking its size and header.
func (m *regionMaps) open(id int64) (*mappedRegion, error) {
	path := RegionPath(m.dir, id)
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("payload region %s cannot be opened: %w", path, err)
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("payload region %s: %w", path, err)
	}
	if st.Size < regionHeaderLength || st.Size > regionHeaderLength+maxRegionData {
		return nil, fmt.Errorf("payload region %s is %d bytes: a region is %d to %d", path, st.Size, regionHeaderLength, regionHeaderLength+maxRegionData)
	}
	mem, err := syscall.Mmap(fd, 0, int(st.Size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("payload region %s cannot be mapped: %w", path, err)
	}
	if err := checkRegionHeader(mem, path, st.Size, id); err != nil {
		_ = syscall.Munmap(mem)
		return nil, err
	}
	return &mappedRegion{id: id, path: path, mem: mem, dataLength: st.Size - regionHeaderLength,
		dev: uint64(st.Dev), ino: uint64(st.Ino)}, nil
}

// sweep unmaps, at most once per regionSweepInterval, the mappings no request reads whose
// file has gone (or was replaced): their owner removed them.
func (m *regionMaps) sweep(now time.Time) {
	if now.Sub(m.lastSweep) < regionSweepInterval {
		return
	}
	m.lastSweep = now
	for id, r := range m.byID {
		if r.inHand > 0 {
			continue
		}
		var st syscall.Stat_t
		if err := syscall.Stat(r.path, &st); err == nil && uint64(st.Dev) == r.dev && uint64(st.Ino) == r.ino {
			continue
		}
		_ = syscall.Munmap(r.mem)
		delete(m.byID, id)
	}
}

// close unmaps every mapping no request reads (a handler still running past the drain keeps
// its own: the process is about to exit anyway).
func (m *regionMaps) close() error {
	var err error
	for id, r := range m.byID {
		if r.inHand > 0 {
			continue
		}
		err = errors.Join(err, syscall.Munmap(r.mem))
		delete(m.byID, id)
	}
	return err
}
