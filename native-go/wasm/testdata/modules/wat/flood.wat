;; wat_flood: a command that writes 64 KiB to stdout again and again, exiting 1 when a write
;; fails: the host stops collecting its reply at the limit and says so (HANDLER_ERROR).
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 2)
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 65536)) ;; iovec: the second page, zeros
    (i32.store (i32.const 4) (i32.const 65536))
    (loop $more
      (if (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))
        (then (call $proc_exit (i32.const 1))))
      (br $more))))
