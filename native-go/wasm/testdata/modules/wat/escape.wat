;; wat_escape: a command that asks WASI for a file (path_open under fd 3, the first preopen
;; there would be) and a connection (sock_accept on fd 3). Its stdout is the two errno
;; values, u16 little-endian each; both must be non-zero (8 = EBADF: there is nothing to open).
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_accept"
    (func $sock_accept (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 256) "etc/passwd")

  (func (export "_start")
    ;; path_open(dirfd 3, lookupflags 0, path 256, len 10, oflags 0, rights all, inheriting all, fdflags 0, fd at 64)
    (i32.store16 (i32.const 32)
      (call $path_open (i32.const 3) (i32.const 0) (i32.const 256) (i32.const 10) (i32.const 0)
        (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 64)))
    ;; sock_accept(fd 3, flags 0, fd at 64)
    (i32.store16 (i32.const 34) (call $sock_accept (i32.const 3) (i32.const 0) (i32.const 64)))
    ;; write the 4 bytes at 32 to stdout: iovec at 0
    (i32.store (i32.const 0) (i32.const 32))
    (i32.store (i32.const 4) (i32.const 4))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
