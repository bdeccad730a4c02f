//go:build !unix

package connlimit

// DefaultMaxConns is the total bound when Config leaves it unset. Outside
// Unix there is no descriptor limit to read, so it is a fixed 1024.
func DefaultMaxConns() int { return fixedMaxConns }
