;; wat_echo_command: the command ABI (docs/wasm.md) by hand: read stdin to its end, upper-case
;; it, write it to stdout. Memory: 0..16 scratch (an iovec and a count), data from 1024.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 2)

  (func (export "_start")
    (local $len i32)
    (local $n i32)
    (local $i i32)
    (local $c i32)
    ;; read: keep 64 KiB free after the data, read up to 64 KiB at a time
    (block $eof
      (loop $read
        (if (i32.lt_u
              (i32.sub (i32.shl (memory.size) (i32.const 16)) (i32.add (i32.const 1024) (local.get $len)))
              (i32.const 65536))
          (then
            (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1))
              (then (call $proc_exit (i32.const 12))))))
        (i32.store (i32.const 0) (i32.add (i32.const 1024) (local.get $len)))
        (i32.store (i32.const 4) (i32.const 65536))
        (if (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8))
          (then (call $proc_exit (i32.const 5))))
        (local.set $n (i32.load (i32.const 8)))
        (br_if $eof (i32.eqz (local.get $n)))
        (local.set $len (i32.add (local.get $len) (local.get $n)))
        (br $read)))
    ;; upper-case 'a'..'z' in place
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $c (i32.load8_u (i32.add (i32.const 1024) (local.get $i))))
        (if (i32.lt_u (i32.sub (local.get $c) (i32.const 97)) (i32.const 26))
          (then (i32.store8 (i32.add (i32.const 1024) (local.get $i)) (i32.sub (local.get $c) (i32.const 32)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    ;; write it all
    (local.set $i (i32.const 0))
    (block $written
      (loop $write
        (br_if $written (i32.ge_u (local.get $i) (local.get $len)))
        (i32.store (i32.const 0) (i32.add (i32.const 1024) (local.get $i)))
        (i32.store (i32.const 4) (i32.sub (local.get $len) (local.get $i)))
        (if (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))
          (then (call $proc_exit (i32.const 5))))
        (local.set $i (i32.add (local.get $i) (i32.load (i32.const 8))))
        (br $write))))
)
