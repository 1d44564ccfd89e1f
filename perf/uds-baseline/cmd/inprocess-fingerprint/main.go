// Command inprocess-fingerprint times the wappalyzer.fingerprint handler called in-process, the
// reference for the bridge's overhead in perf's RealJobBenchmark: the same handler
// (examples/web-scan/go/fingerprint, through the SDK's typed adapter as the worker serves it), the same pages, one at a time on one goroutine, each request the same
// SBE FingerprintRequest (no headers) the Java client sends, decode and encode included.
// Prints one JSON object.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/polybridge/polybridge/examples/web-scan/go/fingerprint"
)

func main() {
	corpus := flag.String("corpus", "../shared/corpus", "corpus directory holding manifest.tsv and html/")
	pages := flag.String("pages", "all", "all | sample (every 7th page of manifest.tsv) | smoke (its first 3)")
	passes := flag.Int("passes", 3, "timed passes over the pages, after one warm-up pass")
	flag.Parse()

	names, err := selectPages(filepath.Join(*corpus, "manifest.tsv"), *pages)
	if err != nil {
		log.Fatal(err)
	}
	requests := make([][]byte, 0, len(names))
	total := 0
	for _, name := range names {
		body, err := os.ReadFile(filepath.Join(*corpus, "html", name+".html"))
		if err != nil {
			log.Fatal(err)
		}
		total += len(body)
		req := fingerprint.EncodeRequest(nil, "https://corpus.polybridge.test/"+name+".html", body)
		requests = append(requests, req)
	}
	f, err := fingerprint.New()
	if err != nil {
		log.Fatal(err)
	}
	h := f.Handler()
	pass := func() {
		for _, req := range requests {
			if _, err := h.Handle(context.Background(), req); err != nil {
				log.Fatal(err)
			}
		}
	}
	pass() // warm-up
	var times []float64
	for i := 0; i < *passes; i++ {
		start := time.Now()
		pass()
		times = append(times, float64(time.Since(start).Nanoseconds())/1e6)
	}
	mean := 0.0
	for _, t := range times {
		mean += t
	}
	mean /= float64(len(times))
	out, _ := json.Marshal(map[string]any{
		"job": "go-fingerprint-inprocess", "pages": *pages, "page_count": len(names), "bytes": total,
		"passes_ms": times, "mean_ms_per_pass": mean,
	})
	fmt.Println(string(out))
}

// selectPages reads page names from manifest.tsv (name, bytes, sha256; one header line). The
// Java benchmark selects with the same rule.
func selectPages(manifest, which string) ([]string, error) {
	f, err := os.Open(manifest)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var all []string
	s := bufio.NewScanner(f)
	for first := true; s.Scan(); first = false {
		if first || strings.TrimSpace(s.Text()) == "" {
			continue
		}
		all = append(all, strings.SplitN(s.Text(), "\t", 2)[0])
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	switch which {
	case "all":
		return all, nil
	case "sample":
		var some []string
		for i := 0; i < len(all); i += 7 {
			some = append(some, all[i])
		}
		return some, nil
	case "smoke":
		return all[:min(3, len(all))], nil
	}
	return nil, fmt.Errorf("pages must be all, sample or smoke, not %q", which)
}
