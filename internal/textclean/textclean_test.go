package textclean

import "testing"

func TestTextAndLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s          string
		text, line bool
	}{
		{"hello", true, true},
		{"two\nlines\tand a tab", true, false},
		{"", true, true},
		{"a\x00b", false, false},
		{"a\rb", false, false},
		{"\x7f", false, false},
		{"\u0085next line", false, false},
		{"a\xffb", false, false},
		{"\u202egnp.exe", false, false},
		{"\u202a", false, false},
		{"\u2066isolated\u2069", false, false},
		{"\u2069", false, false},
		{"\u200fright-to-left mark\u200e", true, true},
		{"\u2028line separator", true, true},
		{"🎉 東京", true, true},
	} {
		if got := Text(tc.s); got != tc.text {
			t.Errorf("Text(%q) = %v", tc.s, got)
		}
		if got := Line(tc.s); got != tc.line {
			t.Errorf("Line(%q) = %v", tc.s, got)
		}
	}
}
