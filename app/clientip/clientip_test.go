package clientip_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"moments/app/clientip"
)

// header is one header line; a name given twice makes two lines.
type header struct{ name, value string }

func request(t *testing.T, remoteAddr string, headers ...header) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = remoteAddr
	for _, h := range headers {
		r.Header.Add(h.name, h.value)
	}
	return r
}

func prefixes(t *testing.T, ss ...string) []netip.Prefix {
	t.Helper()
	out := make([]netip.Prefix, 0, len(ss))
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// proxies returns a typical deployment: a load balancer and an ingress inside
// 10/8, and an IPv6 internal range.
func proxies() []string { return []string{"10.0.0.0/8", "fd00::/8"} }

func TestClientIP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		trusted []string
		header  string // the configured header; "" is X-Forwarded-For
		remote  string
		headers []header
		want    string // "" means no usable address
	}{
		// The peer is not a proxy we trust: whatever it claims is ignored.
		{name: "untrusted peer, no headers", trusted: proxies(), remote: "203.0.113.7:5555", want: "203.0.113.7"},
		{
			name: "untrusted peer spoofs X-Forwarded-For", trusted: proxies(), remote: "203.0.113.7:5555",
			headers: []header{{"X-Forwarded-For", "198.51.100.1"}}, want: "203.0.113.7",
		},
		{
			name: "untrusted peer spoofs X-Real-IP", trusted: proxies(), remote: "203.0.113.7:5555",
			headers: []header{{"X-Real-IP", "198.51.100.1"}}, want: "203.0.113.7",
		},
		{
			name: "untrusted peer spoofs Forwarded", trusted: proxies(), remote: "203.0.113.7:5555",
			headers: []header{{"Forwarded", "for=198.51.100.1"}}, want: "203.0.113.7",
		},
		{
			name: "untrusted peer claims a trusted address", trusted: proxies(), remote: "203.0.113.7:5555",
			headers: []header{{"X-Forwarded-For", "10.0.0.1"}}, want: "203.0.113.7",
		},
		{
			name: "no trusted proxies configured", remote: "10.0.0.1:5555",
			headers: []header{{"X-Forwarded-For", "198.51.100.1"}}, want: "10.0.0.1",
		},

		// X-Forwarded-For from a trusted proxy.
		{name: "trusted peer without headers", trusted: proxies(), remote: "10.0.0.1:5555", want: "10.0.0.1"},
		{
			name: "one hop", trusted: proxies(), remote: "10.0.0.1:5555",
			headers: []header{{"X-Forwarded-For", "198.51.100.1"}}, want: "198.51.100.1",
		},
		{
			name: "client-written entries left of the proxy's are ignored", trusted: proxies(), remote: "10.0.0.1:5555",
			headers: []header{{"X-Forwarded-For", "1.1.1.1, 2.2.2.2, 198.51.100.1"}}, want: "198.51.100.1",
		},
		{
			name: "several header lines are one list", trusted: proxies(), remote: "10.0.0.1:5555",
			headers: []header{
				{"X-Forwarded-For", "1.1.1.1"},
				{"X-Forwarded-For", "198.51.100.1"},
			},
			want: "198.51.100.1",
		},
		{
			name: "spaces and tabs around entries", trusted: proxies(), remote: "10.0.0.1:5555",
			headers: []header{{"X-Forwarded-For", " 1.1.1.1 ,\t198.51.100.1 ,10.0.0.3"}}, want: "198.51.100.1",
		},
		{
			name: "chain of trusted proxies", trusted: proxies(), remote: "10.0.0.4:5555",
			headers: []header{{"X-Forwarded-For", "1.1.1.1, 198.51.100.1, 10.0.0.2, 10.0.0.3"}}, want: "198.51.100.1",
		},
		{
			name: "chain of trusted proxies across header lines", trusted: proxies(), remote: "10.0.0.4:5555",
			headers: []header{
				{"X-Forwarded-For", "1.1.1.1, 198.51.100.1"},
				{"X-Forwarded-For", "10.0.0.2"},
				{"X-Forwarded-For", "fd00::2"},
			},
			want: "198.51.100.1",
		},
		{
			name: "every hop trusted: the left-most is the client", trusted: proxies(), remote: "10.0.0.4:5555",
			headers: []header{{"X-Forwarded-For", "10.1.1.1, garbage, 10.0.0.2"}}, want: "10.1.1.1",
		},
		{
			name: "garbage entries are skipped", trusted: proxies(), remote: "10.0.0.1:5555",
			headers: []header{{"X-Forwarded-For", "198.51.100.1, not-an-ip, , unknown, 999.1.1.1, 10.0.0.2"}}, want: "198.51.100.1",
		},
		{
			name: "only garbage: the peer", trusted: proxies(), remote: "10.0.0.1:5555",
			headers: []header{{"X-Forwarded-For", "not-an-ip, ;DROP TABLE users"}}, want: "10.0.0.1",
		},
		{
			name: "empty X-Forwarded-For: the peer", trusted: proxies(), remote: "10.0.0.1:5555",
			headers: []header{{"X-Forwarded-For", ""}}, want: "10.0.0.1",
		},
		{
			name: "entry with a port", trusted: proxies(), remote: "10.0.0.1:5555",
			headers: []header{{"X-Forwarded-For", "198.51.100.1:4711"}}, want: "198.51.100.1",
		},
		{
			name: "bracketed IPv6 entry with a port", trusted: proxies(), remote: "10.0.0.1:5555",
			headers: []header{{"X-Forwarded-For", "[2001:db8::1]:4711"}}, want: "2001:db8::1",
		},
		{
			name: "bare IPv6 entry", trusted: proxies(), remote: "[fd00::1]:5555",
			headers: []header{{"X-Forwarded-For", "2001:db8::1"}}, want: "2001:db8::1",
		},
		{
			name: "IPv4-mapped entry", trusted: proxies(), remote: "10.0.0.1:5555",
			headers: []header{{"X-Forwarded-For", "::ffff:198.51.100.1"}}, want: "198.51.100.1",
		},
		{
			name: "X-Forwarded-For is the default and the only header read", trusted: proxies(), remote: "10.0.0.1:5555",
			headers: []header{
				{"X-Forwarded-For", "garbage"},
				{"Forwarded", "for=198.51.100.1"},
				{"X-Real-IP", "198.51.100.2"},
			},
			want: "10.0.0.1",
		},

		// RFC 7239 Forwarded.
		{
			name: "Forwarded with other parameters", trusted: proxies(), header: "Forwarded", remote: "10.0.0.1:5555",
			headers: []header{{"Forwarded", "for=198.51.100.1;proto=https;by=10.0.0.1"}}, want: "198.51.100.1",
		},
		{
			name: "Forwarded quoted IPv6 with port", trusted: proxies(), header: "Forwarded", remote: "10.0.0.1:5555",
			headers: []header{{"Forwarded", `for="[2001:db8:cafe::17]:4711"`}}, want: "2001:db8:cafe::17",
		},
		{
			name: "Forwarded quoted IPv4 with obfuscated port", trusted: proxies(), header: "Forwarded", remote: "10.0.0.1:5555",
			headers: []header{{"Forwarded", `for="198.51.100.1:_p1"`}}, want: "198.51.100.1",
		},
		{
			name: "Forwarded right-most untrusted element", trusted: proxies(), header: "Forwarded", remote: "10.0.0.1:5555",
			headers: []header{{"Forwarded", "for=1.1.1.1, for=198.51.100.1, for=10.0.0.2"}}, want: "198.51.100.1",
		},
		{
			name: "Forwarded over several lines", trusted: proxies(), header: "Forwarded", remote: "10.0.0.1:5555",
			headers: []header{
				{"Forwarded", "for=1.1.1.1"},
				{"Forwarded", "for=198.51.100.1;proto=http"},
				{"Forwarded", `for="[fd00::9]"`},
			},
			want: "198.51.100.1",
		},
		{
			name: "Forwarded obfuscated and unknown identifiers are ignored", trusted: proxies(), header: "Forwarded", remote: "10.0.0.1:5555",
			headers: []header{{"Forwarded", `for=198.51.100.1, For="_gazonk", for=unknown`}}, want: "198.51.100.1",
		},
		{
			name: "Forwarded with only an obfuscated identifier: the peer", trusted: proxies(), header: "Forwarded", remote: "10.0.0.1:5555",
			headers: []header{{"Forwarded", "for=_hidden"}}, want: "10.0.0.1",
		},
		{
			name: "Forwarded element without for", trusted: proxies(), header: "Forwarded", remote: "10.0.0.1:5555",
			headers: []header{{"Forwarded", "proto=https;by=10.0.0.1"}}, want: "10.0.0.1",
		},
		{
			name: "Forwarded separators inside quotes", trusted: proxies(), header: "Forwarded", remote: "10.0.0.1:5555",
			headers: []header{{"Forwarded", `for=1.1.1.1, ext="a,for=2.2.2.2;\",b";for=198.51.100.1, for=10.0.0.2`}}, want: "198.51.100.1",
		},
		{
			name: "Forwarded parameter names ignore case", trusted: proxies(), header: "Forwarded", remote: "10.0.0.1:5555",
			headers: []header{{"Forwarded", "FOR=198.51.100.1"}}, want: "198.51.100.1",
		},
		{
			name: "Forwarded configured: a client's X-Forwarded-For is ignored", trusted: proxies(), header: "Forwarded", remote: "10.0.0.1:5555",
			headers: []header{{"X-Forwarded-For", "198.51.100.66"}, {"Forwarded", "for=198.51.100.1"}}, want: "198.51.100.1",
		},

		// Single-address headers.
		{
			name: "X-Real-IP", trusted: proxies(), header: "X-Real-IP", remote: "10.0.0.1:5555",
			headers: []header{{"X-Real-IP", "198.51.100.1"}}, want: "198.51.100.1",
		},
		{
			name: "X-Real-IP garbage: the peer", trusted: proxies(), header: "X-Real-IP", remote: "10.0.0.1:5555",
			headers: []header{{"X-Real-IP", "localhost"}}, want: "10.0.0.1",
		},
		{
			// The attack: the proxy sets X-Real-IP and passes the client's
			// own X-Forwarded-For through.
			name: "X-Real-IP configured: a client's X-Forwarded-For is ignored", trusted: proxies(), header: "X-Real-IP", remote: "10.0.0.1:5555",
			headers: []header{{"X-Forwarded-For", "198.51.100.66"}, {"X-Real-IP", "198.51.100.1"}}, want: "198.51.100.1",
		},
		{
			name: "X-Real-IP configured but absent: the peer, not X-Forwarded-For", trusted: proxies(), header: "X-Real-IP", remote: "10.0.0.1:5555",
			headers: []header{{"X-Forwarded-For", "198.51.100.66"}}, want: "10.0.0.1",
		},
		{
			name: "X-Real-IP configured: an untrusted peer's is ignored", trusted: proxies(), header: "X-Real-IP", remote: "203.0.113.7:5555",
			headers: []header{{"X-Real-IP", "198.51.100.1"}}, want: "203.0.113.7",
		},
		{
			name: "configured name ignores case", trusted: proxies(), header: "x-real-ip", remote: "10.0.0.1:5555",
			headers: []header{{"X-Real-IP", "198.51.100.1"}}, want: "198.51.100.1",
		},
		{
			name: "CF-Connecting-IP", trusted: proxies(), header: "CF-Connecting-IP", remote: "10.0.0.1:5555",
			headers: []header{{"X-Forwarded-For", "198.51.100.66"}, {"CF-Connecting-IP", "2001:db8::1"}}, want: "2001:db8::1",
		},
		{
			name: "Fly-Client-IP", trusted: proxies(), header: "Fly-Client-IP", remote: "10.0.0.1:5555",
			headers: []header{{"X-Forwarded-For", "198.51.100.66"}, {"Fly-Client-IP", "198.51.100.1"}}, want: "198.51.100.1",
		},
		{
			name: "True-Client-IP", trusted: proxies(), header: "True-Client-IP", remote: "10.0.0.1:5555",
			headers: []header{{"X-Real-IP", "198.51.100.66"}, {"True-Client-IP", "198.51.100.1"}}, want: "198.51.100.1",
		},
		{
			name: "X-Client-IP", trusted: proxies(), header: "X-Client-IP", remote: "10.0.0.1:5555",
			headers: []header{{"X-Forwarded-For", "198.51.100.66"}, {"X-Client-IP", "198.51.100.1"}}, want: "198.51.100.1",
		},
		{
			name: "single-address header sent twice: the right-most untrusted", trusted: proxies(), header: "True-Client-IP", remote: "10.0.0.1:5555",
			headers: []header{{"True-Client-IP", "198.51.100.66"}, {"True-Client-IP", "198.51.100.1"}}, want: "198.51.100.1",
		},
		{
			name: "single-address header as a list: the right-most untrusted", trusted: proxies(), header: "X-Client-IP", remote: "10.0.0.1:5555",
			headers: []header{{"X-Client-IP", "198.51.100.66, 198.51.100.1, 10.0.0.2"}}, want: "198.51.100.1",
		},

		// The peer address itself.
		{name: "IPv4-mapped peer", trusted: proxies(), remote: "[::ffff:203.0.113.7]:443", want: "203.0.113.7"},
		{
			name: "IPv4-mapped peer matches an IPv4 prefix", trusted: proxies(), remote: "[::ffff:10.0.0.1]:443",
			headers: []header{{"X-Forwarded-For", "198.51.100.1"}}, want: "198.51.100.1",
		},
		{
			name: "IPv4-mapped prefix matches an IPv4 peer", trusted: []string{"::ffff:10.0.0.0/104"}, remote: "10.0.0.1:443",
			headers: []header{{"X-Forwarded-For", "198.51.100.1"}}, want: "198.51.100.1",
		},
		{
			name: "trusted IPv6 proxy", trusted: proxies(), remote: "[fd00::1]:443",
			headers: []header{{"X-Forwarded-For", "198.51.100.1"}}, want: "198.51.100.1",
		},
		{name: "IPv4 peer without port", trusted: proxies(), remote: "203.0.113.7", want: "203.0.113.7"},
		{name: "IPv6 peer without port", trusted: proxies(), remote: "2001:db8::7", want: "2001:db8::7"},
		{name: "bracketed IPv6 peer without port", trusted: proxies(), remote: "[2001:db8::7]", want: "2001:db8::7"},
		{name: "IPv6 peer with zone", trusted: proxies(), remote: "[fe80::1%eth0]:443", want: "fe80::1"},
		{
			name: "trusted peer without port", trusted: proxies(), remote: "10.0.0.1",
			headers: []header{{"X-Forwarded-For", "198.51.100.1"}}, want: "198.51.100.1",
		},
		{
			name: "unusable peer address", trusted: proxies(), remote: "@",
			headers: []header{{"X-Forwarded-For", "198.51.100.1"}}, want: "",
		},
		{name: "empty peer address", trusted: proxies(), remote: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := clientip.New(prefixes(t, tt.trusted...), tt.header).ClientIP(request(t, tt.remote, tt.headers...))
			if tt.want == "" {
				if got.IsValid() {
					t.Errorf("ClientIP = %v, want no address", got)
				}
				return
			}
			if want := netip.MustParseAddr(tt.want); got != want {
				t.Errorf("ClientIP = %v, want %v", got, want)
			}
		})
	}
}

// Every header is read from a trusted peer and ignored from anyone else.
func TestEveryHeader(t *testing.T) {
	t.Parallel()
	for _, name := range []string{
		"X-Forwarded-For", "X-Real-IP", "Forwarded", "CF-Connecting-IP", "Fly-Client-IP", "True-Client-IP", "X-Client-IP",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			value := "198.51.100.1"
			if name == "Forwarded" {
				value = "for=" + value
			}
			r := clientip.New(prefixes(t, proxies()...), name)
			if got, want := r.ClientIP(request(t, "10.0.0.1:5555", header{name, value})), netip.MustParseAddr("198.51.100.1"); got != want {
				t.Errorf("trusted peer: ClientIP = %v, want %v", got, want)
			}
			if got, want := r.ClientIP(request(t, "203.0.113.7:5555", header{name, value})), netip.MustParseAddr("203.0.113.7"); got != want {
				t.Errorf("untrusted peer: ClientIP = %v, want %v", got, want)
			}
		})
	}
}

func TestParseHeader(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                 "X-Forwarded-For",
		"x-forwarded-for":  "X-Forwarded-For",
		"X-REAL-IP":        "X-Real-IP",
		"forwarded":        "Forwarded",
		"cf-connecting-ip": "CF-Connecting-IP",
		"Fly-Client-Ip":    "Fly-Client-IP",
		"true-client-ip":   "True-Client-IP",
		"X-Client-IP":      "X-Client-IP",
	} {
		if got, err := clientip.ParseHeader(in); err != nil || got != want {
			t.Errorf("ParseHeader(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"X-Forwarded-Host", "Remote-Addr", " X-Real-IP", "X-Real-IP,Forwarded"} {
		_, err := clientip.ParseHeader(bad)
		if err == nil || !strings.Contains(err.Error(), "X-Forwarded-For, X-Real-IP") {
			t.Errorf("ParseHeader(%q) = %v, want an error listing the headers", bad, err)
		}
	}
}

func TestNewRefusesAnUnknownHeader(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("New accepted X-Forwarded-Host")
		}
	}()
	clientip.New(nil, "X-Forwarded-Host")
}

func TestTrusts(t *testing.T) {
	t.Parallel()
	r := clientip.New(prefixes(t, "10.0.0.0/8", "::ffff:192.168.0.0/112", "fd00::/8"), "")
	for addr, want := range map[string]bool{
		"10.1.2.3":           true,
		"::ffff:10.1.2.3":    true,
		"192.168.7.7":        true,
		"fd00::1":            true,
		"fd00::1%eth0":       true,
		"203.0.113.7":        false,
		"::ffff:203.0.113.7": false,
		"2001:db8::1":        false,
	} {
		if got := r.Trusts(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Trusts(%s) = %v, want %v", addr, got, want)
		}
	}
	var zero clientip.Resolver
	if zero.Trusts(netip.MustParseAddr("10.1.2.3")) {
		t.Error("the zero Resolver trusts 10.1.2.3")
	}
}

func TestZeroResolverTrustsNoOne(t *testing.T) {
	t.Parallel()
	var r clientip.Resolver
	req := request(t, "10.0.0.1:5555", header{"X-Forwarded-For", "198.51.100.1"})
	if got, want := r.ClientIP(req), netip.MustParseAddr("10.0.0.1"); got != want {
		t.Errorf("ClientIP = %v, want %v", got, want)
	}
}

func TestKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		remote  string
		headers []header
		want    string
	}{
		{name: "IPv4 is the address", remote: "203.0.113.7:5555", want: "203.0.113.7"},
		{name: "IPv6 is its /64", remote: "[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:5555", want: "2001:db8:1:2::/64"},
		{name: "IPv4-mapped is IPv4", remote: "[::ffff:203.0.113.7]:5555", want: "203.0.113.7"},
		{
			name: "forwarded IPv6 is its /64", remote: "10.0.0.1:5555",
			headers: []header{{"X-Forwarded-For", "2001:db8:1:2::99"}}, want: "2001:db8:1:2::/64",
		},
		{name: "no usable address", remote: "@", want: ""},
	}
	r := clientip.New(prefixes(t, proxies()...), "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := r.Key(request(t, tt.remote, tt.headers...)); got != tt.want {
				t.Errorf("Key = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestKeyGroupsIPv6By64(t *testing.T) {
	t.Parallel()
	r := clientip.New(nil, "")
	key := func(remote string) string { return r.Key(request(t, remote)) }

	a, b := key("[2001:db8:1:2::1]:1"), key("[2001:db8:1:2:ffff:ffff:ffff:ffff]:2")
	if a != b {
		t.Errorf("two addresses in one /64: keys %q and %q, want equal", a, b)
	}
	if c := key("[2001:db8:1:3::1]:1"); c == a {
		t.Errorf("neighbouring /64s share key %q, want different", c)
	}
	if d, e := key("203.0.113.7:1"), key("203.0.113.8:1"); d == e {
		t.Errorf("two IPv4 addresses share key %q, want different", d)
	}
}
