package store

// Key is a place in a keyset-paginated list: the (created_at, id) of an
// item. Every list is ordered by it, newest first or oldest first, and a
// page after a key starts strictly after it, so walking the pages visits
// each item once even while items are added.
type Key struct {
	CreatedAt int64 // unix milliseconds
	ID        int64
}

// trimPage takes what a page query returned when it asked for limit+1
// items: the page is the first limit, and the key of its last item is
// where the next page starts, or nil when there is no next page.
func trimPage[T any](items []T, limit int, key func(T) Key) ([]T, *Key) {
	if len(items) <= limit {
		return items, nil
	}
	items = items[:limit]
	next := key(items[limit-1])
	return items, &next
}
