package account

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestRules(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"abc": true, "Alice_99": true, strings.Repeat("a", 32): true,
		"ab": false, strings.Repeat("a", 33): false, "al ice": false, "ålice": false, "\u0430lice": false, "bob\x00": false, "": false,
	} {
		if got := ValidUsername(name); got != want {
			t.Errorf("ValidUsername(%q) = %v", name, got)
		}
	}
	for pw, want := range map[string]bool{"12345678": true, strings.Repeat("é", 36): true, "1234567": false, strings.Repeat("é", 37): false} {
		if got := ValidPassword(pw); got != want {
			t.Errorf("ValidPassword(%d bytes) = %v", len(pw), got)
		}
	}
	if err := CheckNew("alice", "short"); err == nil || !strings.Contains(err.Error(), "8 to 72 bytes") {
		t.Errorf("CheckNew with a short password: %v", err)
	}
	if err := CheckNew("a", "long enough"); err == nil || !strings.Contains(err.Error(), "username") {
		t.Errorf("CheckNew with a short name: %v", err)
	}
	h, err := HashPassword("long enough", 0)
	if cost, _ := bcrypt.Cost([]byte(h)); err != nil || cost != DefaultPasswordCost {
		t.Errorf("HashPassword at the default cost: cost %d, %v", cost, err)
	}
}
