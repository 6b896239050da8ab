package umptest

import "sync"

// keyLocks serialises the calls that write one key.
type keyLocks struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

// keyLock is one key's lock: a token in held, and how many calls hold or
// wait for it, so the entry goes when the last one leaves.
type keyLock struct {
	held  chan struct{}
	users int
}

// lock takes key's lock, waiting as long as it takes, and returns its
// release.
func (k *keyLocks) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyLock{held: make(chan struct{}, 1)}
		k.locks[key] = l
	}
	l.users++
	k.mu.Unlock()
	l.held <- struct{}{}
	return func() {
		<-l.held
		k.mu.Lock()
		if l.users--; l.users == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
