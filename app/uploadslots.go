package app

import (
	"context"
	"sync"
)

// uploadsPerAccount is how many uploads of one account are read at once.
// The web UI sends up to nine photos together; the others wait their turn,
// which costs a goroutine each, not memory.
const uploadsPerAccount = 3

// uploadSlots bounds the uploads each account has in flight. Only accounts
// with an upload holding or waiting for a slot have an entry, so its size
// follows the requests in flight, never the number of accounts.
type uploadSlots struct {
	per      int
	mu       sync.Mutex
	accounts map[int64]*accountSlots
}

// accountSlots is one account's share: a token per upload being read.
type accountSlots struct {
	tokens chan struct{}
	users  int // uploads holding or waiting for a token; the entry goes at 0
}

func newUploadSlots(per int) *uploadSlots {
	return &uploadSlots{per: per, accounts: map[int64]*accountSlots{}}
}

// acquire waits for one of the account's slots, or until ctx is done. The
// returned release must be called once the upload is finished with.
func (s *uploadSlots) acquire(ctx context.Context, account int64) (release func(), err error) {
	s.mu.Lock()
	a := s.accounts[account]
	if a == nil {
		a = &accountSlots{tokens: make(chan struct{}, s.per)}
		s.accounts[account] = a
	}
	a.users++
	s.mu.Unlock()

	select {
	case a.tokens <- struct{}{}:
		return func() {
			<-a.tokens
			s.leave(account, a)
		}, nil
	case <-ctx.Done():
		s.leave(account, a)
		return nil, ctx.Err()
	}
}

// leave forgets an account once none of its uploads holds or waits for a
// slot.
func (s *uploadSlots) leave(account int64, a *accountSlots) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.users--; a.users == 0 {
		delete(s.accounts, account)
	}
}
