// Package account holds the rules every way of making an account follows:
// registration through the API, `moments user create`, and the store, which
// checks them again whoever calls it.
package account

import (
	"errors"
	"fmt"
	"regexp"

	"golang.org/x/crypto/bcrypt"
)

// UsernamePattern is the whole rule for usernames: 3–32 characters of a-z,
// A-Z, 0-9 and _. Names are unique ignoring case; the store's column does
// that.
const UsernamePattern = `^[A-Za-z0-9_]{3,32}$`

// Username limits, as the pattern says them.
const (
	MinUsernameChars = 3
	MaxUsernameChars = 32
)

var username = regexp.MustCompile(UsernamePattern)

// ValidUsername reports whether name follows UsernamePattern.
func ValidUsername(name string) bool { return username.MatchString(name) }

// Password limits in bytes: bcrypt ignores everything after byte 72, so a
// longer password is refused rather than silently cut.
const (
	MinPasswordBytes = 8
	MaxPasswordBytes = 72
)

// DefaultPasswordCost is the bcrypt cost of stored passwords.
const DefaultPasswordCost = 11

// ValidPassword reports whether password is 8 to 72 bytes long.
func ValidPassword(password string) bool {
	return len(password) >= MinPasswordBytes && len(password) <= MaxPasswordBytes
}

// CheckNew checks a new account's name and password, with a message for
// the person making it.
func CheckNew(name, password string) error {
	if !ValidUsername(name) {
		return errors.New("the username must be 3–32 characters of a-z, A-Z, 0-9 and _")
	}
	if !ValidPassword(password) {
		return fmt.Errorf("the password must be 8 to 72 bytes, not %d", len(password))
	}
	return nil
}

// HashPassword hashes a password at cost (0: DefaultPasswordCost).
func HashPassword(password string, cost int) (string, error) {
	if cost == 0 {
		cost = DefaultPasswordCost
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	return string(h), err
}
