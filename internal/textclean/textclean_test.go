package textclean

import (
	"strings"
	"testing"
)

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

func TestFoldKey(t *testing.T) {
	t.Parallel()
	for _, pair := range [][2]string{{"Family", "fAMILY"}, {"Σίσυφος", "ΣΊΣΥΦΟΣ"}, {"straße", "STRASSE"}, {"K", "\u212a"}} {
		equal := strings.EqualFold(pair[0], pair[1])
		if got := FoldKey(pair[0]) == FoldKey(pair[1]); got != equal {
			t.Errorf("FoldKey(%q) == FoldKey(%q) is %v; EqualFold says %v", pair[0], pair[1], got, equal)
		}
	}
	if FoldKey("Family") == FoldKey("Friends") {
		t.Error("different names fold to one key")
	}
}
