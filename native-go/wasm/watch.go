package wasm

import (
	"context"
	"crypto/sha256"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/polybridge/polybridge/native-go/worker"
)

// Watcher defaults.
const (
	DefaultPollInterval = 250 * time.Millisecond
	HandlerPrefix       = "wasm." // NAME.wasm serves as handler wasm.NAME
	maxModuleSize       = 256 << 20
)

// validName is what a module file's NAME may be: the handler name is read by people and CLIs.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// Watcher keeps a registry in step with a directory: every NAME.wasm in it is served as
// wasm.NAME. It polls the directory's listing (names, sizes, modification times) rather than
// using inotify, which needs no dependency and works on every filesystem.
//
// A new or changed file is loaded once it has looked the same for two polls in a row, so a
// file still being copied is not compiled half-written (write to a temporary name and rename
// to avoid even that wait); the first scan loads at once. A module that fails to load is
// logged and not served (and a previous version of it is withdrawn: the file is what is
// served); it is retried when the file changes. A removed file's handler is unregistered.
// Requests already routed to a replaced or removed module finish on it.
type Watcher struct {
	host     *Host
	registry *worker.Registry
	dir      string
	log      *slog.Logger
	// Interval is the polling period; default DefaultPollInterval. Set before Run.
	Interval time.Duration

	scanned bool
	files   map[string]*watchedFile // by file name
}

type watchedFile struct {
	stamp   stamp
	pending bool // changed since loaded: load when the stamp holds still for a poll
	loaded  *Module
	failed  bool // the current stamp failed to load; wait for a change
}

type stamp struct {
	size    int64
	modTime time.Time
}

// NewWatcher returns a watcher serving dir's modules in registry; call Scan or Run.
func NewWatcher(host *Host, registry *worker.Registry, dir string, log *slog.Logger) *Watcher {
	if log == nil {
		log = slog.Default()
	}
	return &Watcher{host: host, registry: registry, dir: dir, log: log, Interval: DefaultPollInterval,
		files: make(map[string]*watchedFile)}
}

// Run scans at once, then every Interval until ctx ends; then it unregisters every module it
// registered and retires it (closed once its running calls end).
func (w *Watcher) Run(ctx context.Context) {
	ticker := time.NewTicker(w.Interval)
	defer ticker.Stop()
	for {
		w.Scan(ctx)
		select {
		case <-ctx.Done():
			w.stop()
			return
		case <-ticker.C:
		}
	}
}

// Handlers returns the handler names the watcher serves now, sorted.
func (w *Watcher) Handlers() []string {
	var names []string
	for _, f := range w.files {
		if f.loaded != nil {
			names = append(names, f.loaded.Name())
		}
	}
	sort.Strings(names)
	return names
}

// Scan compares the directory with what is served and loads, replaces or removes modules.
// Not safe for concurrent use (Run calls it from one goroutine).
func (w *Watcher) Scan(ctx context.Context) {
	first := !w.scanned
	w.scanned = true
	entries, err := os.ReadDir(w.dir)
	if err != nil {
		if first || !errors.Is(err, fs.ErrNotExist) || len(w.files) > 0 {
			w.log.Error("reading the modules directory", "dir", w.dir, "err", err)
		}
		entries = nil // as if empty: what was served from it is withdrawn
	}
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		file := e.Name()
		if !strings.HasSuffix(file, ".wasm") || strings.HasPrefix(file, ".") {
			continue
		}
		info, err := os.Stat(filepath.Join(w.dir, file)) // follows symbolic links
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		seen[file] = true
		now := stamp{size: info.Size(), modTime: info.ModTime()}
		f := w.files[file]
		if f == nil {
			f = &watchedFile{stamp: now, pending: true}
			w.files[file] = f
			if !first {
				continue // let it settle for one poll
			}
		} else if f.stamp != now {
			f.stamp, f.pending, f.failed = now, true, false
			continue
		}
		if f.pending && !f.failed {
			f.pending = false
			w.load(ctx, file, f)
		}
	}
	for file, f := range w.files {
		if !seen[file] {
			if f.loaded != nil {
				w.withdraw(ctx, f, "file removed")
			}
			delete(w.files, file)
		}
	}
}

func (w *Watcher) load(ctx context.Context, file string, f *watchedFile) {
	stem := strings.TrimSuffix(file, ".wasm")
	name := HandlerPrefix + stem
	path := filepath.Join(w.dir, file)
	fail := func(err error) {
		f.failed = true
		w.log.Error("module not served", "handler", name, "file", path, "err", err)
		if f.loaded != nil {
			w.withdraw(ctx, f, "its file no longer loads")
		}
	}
	if !validName.MatchString(stem) {
		fail(errors.New("NAME.wasm: NAME must be letters, digits, '_', '.' or '-', starting with a letter or digit"))
		return
	}
	if f.stamp.size > maxModuleSize {
		fail(errors.New("larger than 256 MiB"))
		return
	}
	wasm, err := os.ReadFile(path)
	if err != nil {
		fail(err)
		return
	}
	if f.loaded != nil && f.loaded.sha256 == sha256.Sum256(wasm) {
		return // touched, same content: keep serving what is loaded
	}
	m, err := w.host.Load(ctx, name, wasm)
	if err != nil {
		fail(err)
		return
	}
	if err := w.registry.Replace(name, m); err != nil {
		m.Retire(ctx, nil)
		fail(err)
		return
	}
	old := f.loaded
	f.loaded = m
	w.log.Info("module served", "handler", name, "abi", m.ABI().String(), "file", path, "bytes", len(wasm),
		"compileTime", m.CompileTime.Round(time.Millisecond), "replaced", old != nil)
	if old != nil {
		old.Retire(ctx, m)
	}
}

func (w *Watcher) withdraw(ctx context.Context, f *watchedFile, why string) {
	m := f.loaded
	f.loaded = nil
	w.registry.Remove(m.Name())
	m.Retire(ctx, nil)
	w.log.Info("module withdrawn", "handler", m.Name(), "why", why)
}

func (w *Watcher) stop() {
	for _, f := range w.files {
		if f.loaded != nil {
			w.withdraw(context.Background(), f, "worker stopping")
		}
	}
}
