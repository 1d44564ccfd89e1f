;; wat_trap_reactor: a reactor whose pb_handle divides by the payload length: an empty payload
;; traps with "integer divide by zero" (PANIC), anything else returns an empty reply.
(module
  (memory (export "memory") 1)
  (func (export "pb_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "pb_handle") (param $ptr i32) (param $len i32) (result i64)
    (drop (i32.div_u (i32.const 1) (local.get $len)))
    (i64.const 0)))
