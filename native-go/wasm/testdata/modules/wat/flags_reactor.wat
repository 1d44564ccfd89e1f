;; wat_flags_reactor: the reactor ABI's reply flags, chosen by the payload's first byte:
;; 'e' -> bit 31, the message "custom failure" (HANDLER_ERROR); 'b' -> bits 31 and 30, the
;; message "custom failure" (BAD_REQUEST); 'o' -> a reply pointer outside memory (HANDLER_ERROR);
;; anything else -> the payload back unchanged.
(module
  (memory (export "memory") 1)
  (data (i32.const 16) "custom failure")
  (func (export "pb_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "pb_handle") (param $ptr i32) (param $len i32) (result i64)
    (local $first i32)
    (if (i32.eqz (local.get $len)) (then (return (i64.const 0))))
    (local.set $first (i32.load8_u (local.get $ptr)))
    (if (i32.eq (local.get $first) (i32.const 101)) ;; 'e'
      (then (return (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 0x8000000e)))))
    (if (i32.eq (local.get $first) (i32.const 98)) ;; 'b'
      (then (return (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 0xc000000e)))))
    (if (i32.eq (local.get $first) (i32.const 111)) ;; 'o'
      (then (return (i64.or (i64.shl (i64.const 0xfff00000) (i64.const 32)) (i64.const 8)))))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32)) (i64.extend_i32_u (local.get $len)))))
