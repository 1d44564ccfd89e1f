;; wat_loop: a command that never ends; only its deadline stops it (TIMEOUT).
(module
  (func (export "_start")
    (loop $forever (br $forever))))
