;; wat_echo: the reactor ABI (docs/wasm.md) by hand. pb_alloc always answers offset 1024,
;; growing memory to fit; pb_handle upper-cases the payload in place and returns it as the
;; reply: (ptr << 32) | len. No imports at all.
(module
  (memory (export "memory") 1)

  (func (export "pb_alloc") (param $len i32) (result i32)
    (local $pages i32)
    ;; pages needed for 1024 + len bytes, rounded up
    (local.set $pages
      (i32.shr_u (i32.add (i32.add (local.get $len) (i32.const 1024)) (i32.const 65535)) (i32.const 16)))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size))) (i32.const -1))
          (then unreachable))))
    (i32.const 1024))

  (func (export "pb_handle") (param $ptr i32) (param $len i32) (result i64)
    (local $i i32)
    (local $c i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $c (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
        (if (i32.lt_u (i32.sub (local.get $c) (i32.const 97)) (i32.const 26)) ;; 'a'..'z'
          (then (i32.store8 (i32.add (local.get $ptr) (local.get $i)) (i32.sub (local.get $c) (i32.const 32)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i64.or
      (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
      (i64.extend_i32_u (local.get $len))))
)
