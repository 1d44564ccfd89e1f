package worker

import "syscall"

// freeBytes returns the bytes an unprivileged process may still use on dir's filesystem
// (statvfs bavail * frsize).
func freeBytes(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Frsize), nil
}
