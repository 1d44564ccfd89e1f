;; wat_hog: a reactor whose pb_handle grows its memory 1 MiB at a time until refused, then
;; traps; the host reports the memory limit it hit.
(module
  (memory (export "memory") 1)
  (func (export "pb_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "pb_handle") (param i32 i32) (result i64)
    (loop $more
      (br_if $more (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    unreachable))
