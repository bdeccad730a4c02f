package app

import (
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// apiTime is how every time leaves the API: RFC 3339 in UTC with exactly
// three fraction digits (2026-11-26T19:04:05.120Z), the precision the
// database keeps.
type apiTime time.Time

func (t apiTime) MarshalJSON() ([]byte, error) {
	return appendTime(make([]byte, 0, 26), time.Time(t)), nil
}

func (t *apiTime) UnmarshalJSON(b []byte) error {
	var v time.Time
	if err := v.UnmarshalJSON(b); err != nil {
		return err
	}
	*t = apiTime(v)
	return nil
}

// Schema documents the type as a date-time string.
func (apiTime) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: "string", Format: "date-time", Examples: []any{"2026-11-26T19:04:05.123Z"}}
}
