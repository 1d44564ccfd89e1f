;; wat_trap: a command that executes `unreachable` at once: a trap, answered PANIC.
(module
  (func (export "_start") unreachable))
