package smsws

import "encoding/json"

// Filter narrows what the server sends a socket; nil fields do not narrow. MessageIDs non-nil
// (even empty) enables Watch/Unwatch.
type Filter struct {
	Types      []string `json:"types,omitempty"`
	Statuses   []string `json:"statuses,omitempty"`
	MessageIDs []string `json:"messageIds,omitempty"`
}

const (
	// authIDs: ids in the auth message itself keep it far below the server's 4 KiB frame limit.
	authIDs = 20
	// frameIDs: ids per watch frame (the server takes at most 100; 50 of 64 chars fit in 4 KiB).
	frameIDs = 50
)

// watchSet is the set of followed messages, kept across sockets in insertion order: each new
// socket authenticates with the first authIDs and sends the rest as watch frames right behind.
type watchSet struct {
	order []string
	ids   map[string]struct{}
}

func newWatchSet(initial []string) *watchSet {
	w := &watchSet{ids: map[string]struct{}{}}
	w.add(initial)
	return w
}

func (w *watchSet) add(ids []string) []string {
	var added []string
	for _, id := range ids {
		if _, ok := w.ids[id]; !ok {
			w.ids[id] = struct{}{}
			w.order = append(w.order, id)
			added = append(added, id)
		}
	}
	return added
}

func (w *watchSet) remove(ids []string) []string {
	var removed []string
	for _, id := range ids {
		if _, ok := w.ids[id]; ok {
			delete(w.ids, id)
			removed = append(removed, id)
		}
	}
	if len(removed) > 0 {
		kept := w.order[:0]
		for _, id := range w.order {
			if _, ok := w.ids[id]; ok {
				kept = append(kept, id)
			}
		}
		w.order = kept
	}
	return removed
}

func (w *watchSet) size() int { return len(w.ids) }

// authPlan: the auth filter of a new socket and the watch frames to send right after it.
func (w *watchSet) authPlan(f Filter) (Filter, [][]byte) {
	ids := append([]string(nil), w.order...)
	first := ids[:min(len(ids), authIDs)]
	f.MessageIDs = append([]string{}, first...)
	return f, watchFrames("watch", ids[len(first):])
}

func watchFrames(typ string, ids []string) [][]byte {
	var out [][]byte
	for i := 0; i < len(ids); i += frameIDs {
		b, _ := json.Marshal(struct {
			Type       string   `json:"type"`
			MessageIDs []string `json:"messageIds"`
		}{typ, ids[i:min(len(ids), i+frameIDs)]})
		out = append(out, b)
	}
	return out
}
