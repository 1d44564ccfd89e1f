;; wat_loop_reactor: a reactor whose pb_handle never returns; only the deadline stops it.
(module
  (memory (export "memory") 1)
  (func (export "pb_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "pb_handle") (param i32 i32) (result i64)
    (loop $forever (br $forever))
    (i64.const 0)))
