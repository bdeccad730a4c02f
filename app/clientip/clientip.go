// Package clientip owns the answer to "who is this client?" for rate
// limiting: the address a request came from, believing the one configured
// forwarding header only when the connection comes from a trusted reverse
// proxy, and the key that address is limited under.
package clientip

import (
	"fmt"
	"iter"
	"net/http"
	"net/netip"
	"strings"
)

// headers are the forwarding headers a Resolver can read, in the spelling
// ParseHeader returns; nothing writes to it. Forwarded is RFC 7239's; the
// others carry addresses, one or a comma-separated list.
var headers = []string{
	"X-Forwarded-For",
	"X-Real-IP",
	"Forwarded",
	"CF-Connecting-IP",
	"Fly-Client-IP",
	"True-Client-IP",
	"X-Client-IP",
}

// ParseHeader returns the canonical spelling of the forwarding header name
// names, ignoring case: X-Forwarded-For (also for ""), X-Real-IP,
// Forwarded, CF-Connecting-IP, Fly-Client-IP, True-Client-IP or
// X-Client-IP.
func ParseHeader(name string) (string, error) {
	if name == "" {
		return headers[0], nil
	}
	for _, h := range headers {
		if strings.EqualFold(name, h) {
			return h, nil
		}
	}
	return "", fmt.Errorf("%q is not one of %s", name, strings.Join(headers, ", "))
}

// Resolver finds a request's client address. The zero Resolver trusts no
// proxy and always answers with the peer address.
type Resolver struct {
	trusted []netip.Prefix
	header  string
}

// New returns a Resolver that believes header (MOMENTS_CLIENT_IP_HEADER)
// from peers inside trusted (MOMENTS_TRUSTED_PROXIES). It panics if
// ParseHeader refuses header: configuration checks it first, so a bad name
// here is a mistake in the program.
func New(trusted []netip.Prefix, header string) *Resolver {
	header, err := ParseHeader(header)
	if err != nil {
		panic("clientip.New: " + err.Error())
	}
	r := &Resolver{trusted: make([]netip.Prefix, 0, len(trusted)), header: header}
	for _, p := range trusted {
		p = p.Masked()
		// Addresses are unmapped before they are checked, and an IPv4
		// address never matches an IPv6 prefix, so ::ffff:10.0.0.0/104
		// must become 10.0.0.0/8 to mean what its writer meant.
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		r.trusted = append(r.trusted, p)
	}
	return r
}

// ClientIP returns the client's address, or the zero Addr when the peer
// address is unusable (a Unix socket, say).
//
// Only a trusted peer's forwarding header is read, and only the one
// configured: a proxy that sets one header passes the others through from
// the client untouched, so reading any other would let the client choose
// its address. Within it the right-most untrusted address wins, since
// everything left of the hop our own proxies recorded was written by the
// client; a header a proxy sets to one address is simply that address.
// Without the header, the peer is the client.
func (r *Resolver) ClientIP(req *http.Request) netip.Addr {
	peer, ok := parseNode(req.RemoteAddr)
	if !ok || !r.trusts(peer) {
		return peer
	}
	lines := req.Header.Values(r.header)
	if len(lines) == 0 {
		return peer
	}
	if r.header == "Forwarded" {
		return r.rightmostUntrusted(forwardedFor(lines), peer)
	}
	return r.rightmostUntrusted(commaSeparated(lines), peer)
}

// Key returns the rate-limiting key for req: the IPv4 address, or the /64
// an IPv6 address is in, since a single host is routinely given a whole /64
// and could otherwise mint a fresh bucket per request. It returns "" when
// there is no usable address; those requests share one bucket.
func (r *Resolver) Key(req *http.Request) string {
	a := r.ClientIP(req)
	switch {
	case !a.IsValid():
		return ""
	case a.Is4():
		return a.String()
	default:
		return netip.PrefixFrom(a, 64).Masked().String()
	}
}

// Trusts reports whether a is the address of a trusted proxy. Connection
// limits use it to exempt the proxies, through which every client arrives.
func (r *Resolver) Trusts(a netip.Addr) bool {
	return r.trusts(a.Unmap().WithZone(""))
}

func (r *Resolver) trusts(a netip.Addr) bool {
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// rightmostUntrusted walks hops from the right, past our own proxies, to the
// first address we do not trust. Entries that are not addresses are passed
// over rather than believed. If every hop is trusted the request started
// inside our network, and the left-most hop is the client.
func (r *Resolver) rightmostUntrusted(hops []string, peer netip.Addr) netip.Addr {
	leftmost := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseNode(hops[i])
		if !ok {
			continue
		}
		if !r.trusts(a) {
			return a
		}
		leftmost = a
	}
	return leftmost
}

// parseNode reads one hop: an address, bare or with a port ("192.0.2.1:80",
// "[2001:db8::1]:4711", an obfuscated "192.0.2.1:_p"), or a bracketed IPv6
// address. The port plays no part in the answer, so it is not checked. The
// result is unmapped and zoneless, so one host reads the same however it is
// written.
func parseNode(s string) (netip.Addr, bool) {
	host := strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(host, "["); ok {
		inside, after, ok := strings.Cut(rest, "]")
		if !ok || (after != "" && after[0] != ':') {
			return netip.Addr{}, false
		}
		host = inside
	} else if strings.Count(host, ":") == 1 {
		// One colon is IPv4 with a port; a bare IPv6 address has at least two.
		host, _, _ = strings.Cut(host, ":")
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// commaSeparated flattens header lines of comma-separated lists, in order.
func commaSeparated(lines []string) []string {
	var out []string
	for _, line := range lines {
		out = append(out, strings.Split(line, ",")...)
	}
	return out
}

// forwardedFor returns the for= node of each element of RFC 7239 Forwarded
// header lines, in order; "" for an element without one.
func forwardedFor(lines []string) []string {
	var out []string
	for _, line := range lines {
		for elem := range splitUnquoted(line, ',') {
			node := ""
			for pair := range splitUnquoted(elem, ';') {
				name, value, _ := strings.Cut(pair, "=")
				if strings.EqualFold(strings.TrimSpace(name), "for") {
					node = unquote(strings.TrimSpace(value))
					break
				}
			}
			out = append(out, node)
		}
	}
	return out
}

// splitUnquoted splits s at sep, except inside quoted strings, where a
// "[2001:db8::1]:4711" or an escaped quote must not end the value.
func splitUnquoted(s string, sep byte) iter.Seq[string] {
	return func(yield func(string) bool) {
		start, quoted := 0, false
		for i := 0; i < len(s); i++ {
			switch c := s[i]; {
			case quoted && c == '\\':
				i++
			case c == '"':
				quoted = !quoted
			case !quoted && c == sep:
				if !yield(s[start:i]) {
					return
				}
				start = i + 1
			}
		}
		yield(s[start:])
	}
}

// unquote undoes an RFC 9110 quoted-string; anything else is returned as is.
func unquote(s string) string {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return s
	}
	s = s[1 : len(s)-1]
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
