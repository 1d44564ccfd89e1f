package worker

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// The doorbell lets a client wake a sleeping worker (docs/protocol.md "Doorbell"): a Unix
// stream socket the worker listens on, in the driver's directory, named after its request
// stream. A client connects once and writes a byte after a request it sent after 10 ms or
// more of silence; the worker sleeps only after 20 ms or more without a request, so every
// request that finds it asleep is followed by a ring.

// doorbellPrefix names a worker's doorbell in its driver's directory (+ request stream id).
const doorbellPrefix = "polybridge-doorbell-"

// maxSocketPath is the longest path sun_path holds with its terminating NUL.
const maxSocketPath = 107

// DoorbellPath returns where the worker with requestStream listens for rings in the media
// driver's directory aeronDir.
func DoorbellPath(aeronDir string, requestStream int32) string {
	return filepath.Join(aeronDir, doorbellPrefix+strconv.FormatInt(int64(requestStream), 10))
}

// doorbellPathFor returns the doorbell path of a worker whose requests come on
// requestChannel, or why it has none: only IPC workers (their clients share the host) whose
// path fits a socket address get one.
func doorbellPathFor(aeronDir, requestChannel string, requestStream int32) (string, error) {
	if !isIPC(requestChannel) {
		return "", fmt.Errorf("request channel %s is not IPC", requestChannel)
	}
	path := DoorbellPath(aeronDir, requestStream)
	if len(path) > maxSocketPath {
		return "", fmt.Errorf("doorbell path %s is %d bytes, over the %d a socket address holds", path, len(path), maxSocketPath)
	}
	return path, nil
}

// doorbell listens on its socket and turns every byte read from any connection into a token
// in Rung (capacity 1: rings before the loop sleeps are one wake-up).
type doorbell struct {
	path string
	ln   *net.UnixListener
	file os.FileInfo // what was bound, so Close does not remove a successor's socket
	rung chan struct{}

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup // the accept goroutine and one reader per connection
}

// openDoorbell binds the socket at path (owner-only), replacing whatever file is there (a
// killed predecessor's socket), and starts accepting.
func openDoorbell(path string) (*doorbell, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove the stale doorbell %s: %w", path, err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on the doorbell %s: %w", path, err)
	}
	ln.SetUnlinkOnClose(false) // Close unlinks it only if it is still ours
	fail := func(err error) (*doorbell, error) {
		_ = ln.Close()
		_ = os.Remove(path)
		return nil, err
	}
	// The socket is created with the umask's mode; connecting needs write permission.
	if err := os.Chmod(path, 0o600); err != nil {
		return fail(fmt.Errorf("chmod the doorbell %s: %w", path, err))
	}
	info, err := os.Lstat(path)
	if err != nil {
		return fail(fmt.Errorf("stat the doorbell %s: %w", path, err))
	}
	d := &doorbell{path: path, ln: ln, file: info, rung: make(chan struct{}, 1), conns: map[net.Conn]struct{}{}}
	d.wg.Add(1)
	go d.accept()
	return d, nil
}

// Rung is signalled after bytes arrived on any connection.
func (d *doorbell) Rung() <-chan struct{} { return d.rung }

func (d *doorbell) accept() {
	defer d.wg.Done()
	for {
		conn, err := d.ln.Accept()
		if err != nil {
			return // closed (a transient accept error would spin; the listener is ours alone)
		}
		d.mu.Lock()
		if d.closed {
			d.mu.Unlock()
			_ = conn.Close()
			return
		}
		d.conns[conn] = struct{}{}
		d.wg.Add(1)
		d.mu.Unlock()
		go d.read(conn)
	}
}

// read discards what a client writes, signalling Rung for every read that got bytes.
func (d *doorbell) read(conn net.Conn) {
	defer d.wg.Done()
	defer func() {
		d.mu.Lock()
		delete(d.conns, conn)
		d.mu.Unlock()
		_ = conn.Close()
	}()
	var buf [64]byte
	for {
		n, err := conn.Read(buf[:])
		if n > 0 {
			select {
			case d.rung <- struct{}{}:
			default:
			}
		}
		if err != nil {
			return
		}
	}
}

// Close stops listening, closes every connection, waits for its goroutines and removes the
// socket file if it is still the one it bound.
func (d *doorbell) Close() error {
	d.mu.Lock()
	d.closed = true
	for c := range d.conns {
		_ = c.Close()
	}
	d.mu.Unlock()
	err := d.ln.Close()
	d.wg.Wait()
	if info, statErr := os.Lstat(d.path); statErr == nil && os.SameFile(info, d.file) {
		if rmErr := os.Remove(d.path); rmErr != nil && err == nil {
			err = rmErr
		}
	}
	return err
}

// RingDoorbell connects to the doorbell at path and writes one byte, as a client does after a
// request that may find its worker asleep (the Java client keeps its connection; this is for
// tools and tests).
func RingDoorbell(path string) error {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write([]byte{1})
	return err
}
