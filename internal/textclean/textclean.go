// Package textclean holds the one rule for what text Moments stores: the
// HTTP layer refuses what breaks it with a message naming the field, and
// the store refuses it again, so that no other path (a command, a later
// handler) can write what the API would have refused.
package textclean

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text reports whether s is valid UTF-8 without control characters other
// than newline and tab, and without bidirectional override and isolate
// characters, which let a name or a comment display differently from what
// it says ("\u202Egnp.exe" reads as "exe.png").
func Text(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) && r != '\n' && r != '\t' || Bidi(r)
	})
}

// Line is Text without newlines and tabs: for names and other one-line text.
func Line(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || Bidi(r)
	})
}

// Bidi reports whether r is one of the bidirectional embedding, override or
// isolate characters U+202A–U+202E and U+2066–U+2069. The marks U+200E and
// U+200F stay allowed: they change no text's order, and right-to-left
// writers need them.
func Bidi(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069
}

// FoldKey is s in the one spelling of every string that strings.EqualFold
// takes for equal to it: each rune as the smallest of its case-folding
// orbit. Two names are equal ignoring case, in any script, exactly when
// their keys are equal, so a UNIQUE index on the key enforces it.
func FoldKey(s string) string {
	return strings.Map(func(r rune) rune {
		smallest := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			smallest = min(smallest, f)
		}
		return smallest
	}, s)
}
