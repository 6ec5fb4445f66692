package smsws

// eventIDWindow remembers the last `capacity` event ids: a map for lookups and a ring to know
// which one to forget. The server delivers at least once (a resume may replay what a dropped
// socket already delivered); the window turns that into exactly once for any duplicate arriving
// within `capacity` events of the original, with bounded memory.
type eventIDWindow struct {
	ids  map[string]struct{}
	ring []string
	next int
}

func newEventIDWindow(capacity int) *eventIDWindow {
	return &eventIDWindow{ids: make(map[string]struct{}, capacity), ring: make([]string, capacity)}
}

// add records id; false when it was already in the window (a duplicate).
func (w *eventIDWindow) add(id string) bool {
	if _, dup := w.ids[id]; dup {
		return false
	}
	if old := w.ring[w.next]; old != "" {
		delete(w.ids, old)
	}
	w.ring[w.next] = id
	w.next = (w.next + 1) % len(w.ring)
	w.ids[id] = struct{}{}
	return true
}

func (w *eventIDWindow) has(id string) bool {
	_, ok := w.ids[id]
	return ok
}
