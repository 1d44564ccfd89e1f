//go:build !linux

package worker

import "runtime"

// osYield gives the processor up; without sched_yield at hand, through Go's scheduler.
func osYield() { runtime.Gosched() }
