;; wat_badimport: imports a function from "env", which the host does not provide (only WASI):
;; logged and not announced.
(module
  (import "env" "host_secret" (func $secret (result i32)))
  (func (export "_start") (drop (call $secret))))
