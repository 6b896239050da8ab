package filestore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// This file finds the token file: one path for every process, whatever
// link it was given, and a mode that keeps other users out.

// tmpInfix marks this store's temporary files: "<name>.tmp-<random>".
const tmpInfix = ".tmp-"

// removeStrays deletes temporary files a crashed writer left; the caller
// holds the lock, so no live writer owns one.
func (s *Store) removeStrays() {
	strays, _ := filepath.Glob(filepath.Join(filepath.Dir(s.path), globEscape(filepath.Base(s.path))+tmpInfix+"*"))
	for _, p := range strays {
		_ = os.Remove(p)
	}
}

// globEscape quotes the pattern characters of a file name.
func globEscape(name string) string {
	var b strings.Builder
	for _, r := range name {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// resolve returns path made absolute with every symbolic link resolved, so
// that every process names the same file whichever link it was given. The
// file (and a link's target) need not exist yet.
func resolve(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	for range 40 { // the kernel's own limit on links in a row
		fi, err := os.Lstat(abs)
		if errors.Is(err, os.ErrNotExist) {
			break // resolve the directory; the file comes later
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			return filepath.EvalSymlinks(abs)
		}
		target, err := os.Readlink(abs)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(abs), target)
		}
		abs = filepath.Clean(target)
	}
	dir := filepath.Dir(abs)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	return filepath.Join(real, filepath.Base(abs)), nil
}

// checkModes refuses a token file that group or others may access, or a
// directory they may write without the sticky bit.
func checkModes(path string) error {
	if runtime.GOOS == "windows" {
		return nil // no such mode bits there
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil {
		return fmt.Errorf("filestore: %w", err)
	} else if m := fi.Mode(); m.Perm()&0o022 != 0 && m&os.ModeSticky == 0 {
		return fmt.Errorf("%w: others may write directory %s (mode %04o) and replace the token file; run chmod 700 on it (or use a directory of its own) and check the file", ErrExposed, dir, m.Perm())
	}
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %04o; run chmod 600 on it and check who read it (the tokens may need replacing)", ErrExposed, path, m)
	}
	return nil
}
