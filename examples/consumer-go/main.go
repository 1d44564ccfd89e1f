// Command polybridge-consumer-go is a worker built outside the polybridge repository on its Go SDK
// (github.com/polybridge/polybridge/native-go/worker). It serves one handler, consumer.upper: the
// payload in upper case. Bridge starts it with the flags below.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/polybridge/polybridge/native-go/worker"
)

func main() {
	fs := flag.NewFlagSet("polybridge-consumer-go", flag.ExitOnError)
	aeronDir := fs.String("aeron-dir", "", "the media driver's directory")
	workerID := fs.String("worker-id", "", "name in announcements")
	requestStream := fs.Int("request-stream", worker.DefaultRequestStream, "this worker's request stream")
	announceMs := fs.Int("announce-interval-ms", 1000, "announcement period")
	fs.Int("parent-pid", 0, "the JVM that started it (Bridge stops this worker with SIGTERM)")
	_ = fs.Parse(os.Args[1:])

	registry := worker.NewRegistry()
	upper := worker.HandlerFunc(func(_ context.Context, payload []byte) ([]byte, error) {
		return bytes.ToUpper(payload), nil
	})
	if err := registry.Register("consumer.upper", upper); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	w, err := worker.New(worker.Config{
		AeronDir:         *aeronDir,
		RequestStream:    int32(*requestStream),
		WorkerID:         *workerID,
		AnnounceInterval: time.Duration(*announceMs) * time.Millisecond,
		Logger:           slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}, registry)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := w.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
