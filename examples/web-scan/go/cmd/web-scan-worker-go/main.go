// Command web-scan-worker-go is the web-scan app's Go worker: wappalyzer.fingerprint (and the
// SDK's echo), on the polybridge Go SDK's command line (worker.Main: the flags Bridge passes).
package main

import (
	"context"
	"os"

	"github.com/polybridge/polybridge/examples/web-scan/go/fingerprint"
	"github.com/polybridge/polybridge/native-go/worker"
)

func main() {
	worker.Main(worker.App{
		Name:  "web-scan-worker-go",
		About: "The web-scan app's Go worker: wappalyzer.fingerprint (wappalyzergo) over one fetched page.",
		Start: func(ctx context.Context, env *worker.Env) (func(), error) {
			// Compiling ~7,500 fingerprints takes ~0.35 s: it runs while the worker connects and
			// announces itself, so echo is served at once; fingerprint calls wait for it (or
			// their deadline). A compilation that fails ends the worker: it cannot serve its method.
			lazy := fingerprint.NewLazy()
			go func() {
				if _, err := lazy.Wait(ctx); err != nil && ctx.Err() == nil {
					env.Logger.Error("start handler", "handler", fingerprint.Name, "err", err)
					os.Exit(1)
				}
			}()
			return nil, fingerprint.Register(env.Registry, lazy.Serve)
		},
	})
}
