package worker

import "syscall"

// osYield gives the processor up with sched_yield on the calling thread. The poll loop's
// thread is locked to its goroutine, so runtime.Gosched would park the goroutine and hand
// the thread to the scheduler; the system call keeps both and lets another thread run.
func osYield() {
	_, _, _ = syscall.RawSyscall(syscall.SYS_SCHED_YIELD, 0, 0, 0)
}
