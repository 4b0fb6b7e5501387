package postgres

import "github.com/courier-chat/courier"

// SendResult is the answer to one message of CommitBatch.
type SendResult struct {
	Msg     *courier.Message
	Created bool
	Err     error
}

// CommitBatch commits reqs as one batch the way the committers do, without
// Send's checks, so tests can put messages in a batch that Send would have
// refused before batching.
func (s *MessageStore) CommitBatch(from []*courier.Device, reqs []courier.SendRequest) []SendResult {
	batch := make([]*pendingSend, len(reqs))
	for i := range reqs {
		batch[i] = &pendingSend{from: from[i], req: reqs[i], done: make(chan sendResult, 1)}
	}
	s.commit(batch)
	out := make([]SendResult, len(batch))
	for i, p := range batch {
		r := <-p.done
		out[i] = SendResult{Msg: r.msg, Created: r.created, Err: r.err}
	}
	return out
}

// ReencodeCursor parses a conversation list cursor and encodes it again.
func ReencodeCursor(s string) (string, error) {
	c, err := parseListCursor(s)
	if err != nil {
		return "", err
	}
	return c.String(), nil
}
