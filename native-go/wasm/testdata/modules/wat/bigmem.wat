;; wat_bigmem: declares 128 MiB of memory up front, over the default 64 MiB limit: the host
;; refuses to load it, and says why.
(module
  (memory (export "memory") 2048)
  (func (export "_start")))
