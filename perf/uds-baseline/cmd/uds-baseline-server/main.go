// Command uds-baseline-server is the design polybridge replaces, rebuilt for comparison: a Go
// server on a Unix domain socket reading varint-length-delimited protobuf requests that carry a
// request_id, dispatching them to the same handlers as the polybridge Go worker (echo inline,
// wappalyzer.fingerprint on a bounded set of goroutines), and writing varint-length-delimited
// protobuf responses. Per connection: one reader goroutine and one writer goroutine that
// batches replies into one flush whenever its queue runs empty.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"google.golang.org/protobuf/proto"

	"github.com/polybridge/polybridge/examples/web-scan/go/fingerprint"
	"github.com/polybridge/polybridge/native-go/worker"
	"github.com/polybridge/polybridge/perf/uds-baseline/baselinepb"
)

// Error codes, numbered as polybridge's ErrorCode so results read the same.
const (
	codeOK           = 0
	codeNotFound     = 1
	codeHandlerError = 3
)

// maxMessage bounds what a peer can make the reader allocate: 256 MiB, so that the payload sweep's
// largest echo (64 MB, issue 14) and a 64 MiB one fit with their envelope.
const maxMessage = 256 << 20

func main() {
	socket := flag.String("socket", "", "Unix domain socket path to listen on (required)")
	poolSize := flag.Int("pool-size", runtime.GOMAXPROCS(0), "goroutines running wappalyzer.fingerprint at once")
	flag.Parse()
	if *socket == "" {
		fmt.Fprintln(os.Stderr, "usage: uds-baseline-server --socket PATH [--pool-size N]")
		os.Exit(2)
	}
	fp, err := fingerprint.New()
	if err != nil {
		log.Fatal(err)
	}
	_ = os.Remove(*socket)
	ln, err := net.Listen("unix", *socket)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = ln.Close()
	}()
	fmt.Println("listening on", *socket) // after Listen: a client may connect from here on
	s := &server{fingerprint: fp.Handler(), pool: make(chan struct{}, *poolSize)}
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Fatal(err)
		}
		go s.serve(ctx, conn)
	}
}

type server struct {
	fingerprint worker.Handler
	pool        chan struct{} // semaphore bounding concurrent pooled handlers
}

// serve reads requests until the peer closes; replies go through one writer goroutine.
func (s *server) serve(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	replies := make(chan *baselinepb.Response, 4096)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		if err := writeReplies(conn, replies); err != nil {
			log.Printf("writer: %v", err)
			_ = conn.Close()
		}
	}()
	defer func() {
		close(replies)
		<-writerDone
	}()
	r := bufio.NewReaderSize(conn, 64<<10)
	var frame []byte // reused: proto.Unmarshal copies bytes fields out of it
	for {
		n, err := binary.ReadUvarint(r)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				log.Printf("reader: %v", err)
			}
			return
		}
		if n > maxMessage {
			log.Printf("reader: message of %d bytes exceeds %d", n, maxMessage)
			return
		}
		if cap(frame) < int(n) {
			frame = make([]byte, n)
		}
		frame = frame[:n]
		if _, err := io.ReadFull(r, frame); err != nil {
			log.Printf("reader: %v", err)
			return
		}
		req := &baselinepb.Request{}
		if err := proto.Unmarshal(frame, req); err != nil {
			log.Printf("reader: undecodable request: %v", err)
			return
		}
		s.dispatch(ctx, req, replies)
	}
}

func (s *server) dispatch(ctx context.Context, req *baselinepb.Request, replies chan<- *baselinepb.Response) {
	switch req.Handler {
	case "echo": // inline, as in the polybridge worker
		replies <- &baselinepb.Response{RequestId: req.RequestId, Code: codeOK, Payload: req.Payload}
	case fingerprint.Name:
		s.pool <- struct{}{}
		go func() {
			defer func() { <-s.pool }()
			out, err := s.fingerprint.Handle(ctx, req.Payload)
			if err != nil {
				replies <- &baselinepb.Response{RequestId: req.RequestId, Code: codeHandlerError, Message: err.Error()}
				return
			}
			replies <- &baselinepb.Response{RequestId: req.RequestId, Code: codeOK, Payload: out}
		}()
	default:
		replies <- &baselinepb.Response{RequestId: req.RequestId, Code: codeNotFound,
			Message: fmt.Sprintf("no handler named %q; this server serves: echo, %s", req.Handler, fingerprint.Name)}
	}
}

// writeReplies frames each reply as varint length + protobuf bytes and flushes when no further
// reply is waiting, so a burst of replies costs one write system call, a lone reply one too.
func writeReplies(conn net.Conn, replies <-chan *baselinepb.Response) error {
	w := bufio.NewWriterSize(conn, 64<<10)
	var prefix [binary.MaxVarintLen64]byte
	var out []byte
	marshal := proto.MarshalOptions{}
	for resp := range replies {
		for {
			var err error
			out, err = marshal.MarshalAppend(out[:0], resp)
			if err != nil {
				return fmt.Errorf("marshal response %d: %w", resp.RequestId, err)
			}
			n := binary.PutUvarint(prefix[:], uint64(len(out)))
			if _, err := w.Write(prefix[:n]); err != nil {
				return err
			}
			if _, err := w.Write(out); err != nil {
				return err
			}
			select {
			case next, ok := <-replies:
				if !ok {
					return w.Flush()
				}
				resp = next
				continue
			default:
			}
			break
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	return w.Flush()
}
