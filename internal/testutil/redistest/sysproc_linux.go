package redistest

import "syscall"

// sysProcAttr kills the server if the test process dies first, so a
// crashed test run leaves no redis-server behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
