;; wat_noabi: exports neither _start nor pb_alloc + pb_handle: the host logs it and does not
;; announce it.
(module
  (func (export "hello")))
