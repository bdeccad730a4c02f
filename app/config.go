package app

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"moments/app/clientip"
	"moments/internal/textclean"
)

// Config is every setting of `moments serve`. Each one is a flag and a
// MOMENTS_* environment variable; a flag wins over the environment, which
// wins over the default.
type Config struct {
	Addr           string
	DataDir        string
	Name           string // the instance's name, shown on the sign-in and join pages
	PublicURL      string // the instance's own address, without a trailing slash
	JWTSecret      string
	TokenTTL       time.Duration
	Registration   string // "open" or "closed"
	PublicPosts    bool   // members may post to everyone, and visitors without an account read those posts
	CORSOrigins    []string
	TrustedProxies []netip.Prefix
	ClientIPHeader string // canonical, as clientip.ParseHeader spells it
	Synchronous    string // SQLite synchronous: NORMAL or FULL
	FeedCache      bool   // keep posts' JSON in memory for feed pages (off: read every page from the table)
	MaxUpload      int64
	LogFormat      string // "text" or "json"

	AIBaseURL string
	AIModel   string
	AIAPIKey  string
	AITimeout time.Duration
}

// DefaultConfig is the configuration with nothing set.
func DefaultConfig() Config {
	return Config{
		Addr:           "127.0.0.1:8080",
		DataDir:        "./data",
		Name:           "Moments",
		PublicURL:      "http://localhost:8080",
		TokenTTL:       24 * time.Hour,
		Registration:   "open",
		ClientIPHeader: "X-Forwarded-For",
		Synchronous:    "NORMAL",
		FeedCache:      true,
		MaxUpload:      10 << 20,
		LogFormat:      "text",
		AITimeout:      60 * time.Second,
	}
}

// setting is one row of the configuration table: a flag, its environment
// variable, and how to parse it into the Config.
type setting struct {
	flag, env, help string
	def             string
	set             func(c *Config, v string) error
}

// formerName is a setting's name before a rename, still read when the new
// one is not given: instances configured before the rename keep working.
type formerName struct{ flag, env string }

var formerNames = map[string]formerName{"public-posts": {"public-read", "MOMENTS_PUBLIC_READ"}}

func settings() []setting {
	d := DefaultConfig()
	return []setting{
		{"addr", "MOMENTS_ADDR", "address to listen on (host:port)", d.Addr, func(c *Config, v string) error {
			return parseAddr(v, &c.Addr)
		}},
		{"data", "MOMENTS_DATA", "data directory (database, secret, media)", d.DataDir, func(c *Config, v string) error {
			if v == "" {
				return errors.New("must not be empty")
			}
			if fi, err := os.Stat(v); err == nil && !fi.IsDir() {
				return fmt.Errorf("%s is a file, not a directory", v)
			}
			c.DataDir = v
			return nil
		}},
		{"name", "MOMENTS_NAME", "the instance's name, shown to visitors", d.Name, func(c *Config, v string) error {
			if n := utf8.RuneCountInString(v); n < 1 || n > 64 || v != strings.TrimSpace(v) || !textclean.Line(v) {
				return fmt.Errorf("%q must be 1 to 64 characters on one line, without control or bidirectional override characters", v)
			}
			c.Name = v
			return nil
		}},
		{"public-url", "MOMENTS_PUBLIC_URL", "the address people reach this instance at, e.g. https://moments.example.com; links the server hands out are built from it", d.PublicURL, func(c *Config, v string) error {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
				u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
				// Moments serves its API and UI from the root of its host.
				return fmt.Errorf("%q is not an http(s) address like https://moments.example.com (no path)", v)
			}
			c.PublicURL = strings.TrimSuffix(v, "/")
			return nil
		}},
		{"jwt-secret", "MOMENTS_JWT_SECRET", "token signing secret, at least 32 bytes (prefer the environment variable; default: generated and kept in the data directory)", "", func(c *Config, v string) error {
			if v != "" && len(v) < 32 {
				return fmt.Errorf("is %d bytes; it must be at least 32", len(v))
			}
			c.JWTSecret = v
			return nil
		}},
		{"token-ttl", "MOMENTS_TOKEN_TTL", "lifetime of an access token", d.TokenTTL.String(), func(c *Config, v string) error {
			return parseDuration(v, time.Minute, &c.TokenTTL)
		}},
		{"registration", "MOMENTS_REGISTRATION", "open or closed (closed: only the first account registers itself; moments user create adds the others)", d.Registration, func(c *Config, v string) error {
			if v != "open" && v != "closed" {
				return fmt.Errorf("%q is neither open nor closed", v)
			}
			c.Registration = v
			return nil
		}},
		{"public-posts", "MOMENTS_PUBLIC_POSTS", "let members post to everyone, and visitors without an account read those posts (and only those)", "false", func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%q is not true or false", v)
			}
			c.PublicPosts = b
			return nil
		}},
		{"cors-origins", "MOMENTS_CORS_ORIGINS", "comma-separated origins allowed to call the API from a browser (e.g. https://app.example.com)", "", func(c *Config, v string) error {
			origins, err := parseOrigins(v)
			c.CORSOrigins = origins
			return err
		}},
		{"trusted-proxies", "MOMENTS_TRUSTED_PROXIES", "comma-separated CIDRs of reverse proxies whose client address header (client-ip-header) is believed", "", func(c *Config, v string) error {
			prefixes, err := parsePrefixes(v)
			c.TrustedProxies = prefixes
			return err
		}},
		{"client-ip-header", "MOMENTS_CLIENT_IP_HEADER", "the one header a trusted proxy puts the client's address in: X-Forwarded-For, X-Real-IP, Forwarded, CF-Connecting-IP, Fly-Client-IP, True-Client-IP or X-Client-IP", d.ClientIPHeader, func(c *Config, v string) error {
			h, err := clientip.ParseHeader(v)
			c.ClientIPHeader = h
			return err
		}},
		{"synchronous", "MOMENTS_SYNCHRONOUS", "SQLite durability: NORMAL (a power cut may lose the last commits) or FULL (every commit survives it)", d.Synchronous, func(c *Config, v string) error {
			v = strings.ToUpper(v)
			if v != "NORMAL" && v != "FULL" {
				return fmt.Errorf("%q is neither NORMAL nor FULL", v)
			}
			c.Synchronous = v
			return nil
		}},
		{"feed-cache", "MOMENTS_FEED_CACHE", "on or off: off reads every feed page from the database instead of the feed cache (slower; a switch for when the cache is suspected of a fault)", "on", func(c *Config, v string) error {
			switch v {
			case "on":
				c.FeedCache = true
			case "off":
				c.FeedCache = false
			default:
				return fmt.Errorf("%q is neither on nor off", v)
			}
			return nil
		}},
		{"max-upload", "MOMENTS_MAX_UPLOAD", "largest photo upload in bytes (suffixes KiB, MiB allowed)", "10MiB", func(c *Config, v string) error {
			return parseSize(v, &c.MaxUpload)
		}},
		{"log-format", "MOMENTS_LOG_FORMAT", "text or json", d.LogFormat, func(c *Config, v string) error {
			if v != "text" && v != "json" {
				return fmt.Errorf("%q is neither text nor json", v)
			}
			c.LogFormat = v
			return nil
		}},
		{"ai-base-url", "MOMENTS_AI_BASE_URL", "OpenAI-compatible API base, e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1", "", func(c *Config, v string) error {
			if v == "" {
				c.AIBaseURL = ""
				return nil
			}
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("%q is not an http(s) URL", v)
			}
			c.AIBaseURL = strings.TrimSuffix(v, "/")
			return nil
		}},
		{"ai-model", "MOMENTS_AI_MODEL", "model name, e.g. gpt-4o-mini or llama3.2", "", func(c *Config, v string) error {
			c.AIModel = v
			return nil
		}},
		{"ai-api-key", "MOMENTS_AI_API_KEY", "API key sent as a bearer token (prefer the environment variable; empty: none sent)", "", func(c *Config, v string) error {
			c.AIAPIKey = v
			return nil
		}},
		{"ai-timeout", "MOMENTS_AI_TIMEOUT", "longest wait for the assistant's answer", d.AITimeout.String(), func(c *Config, v string) error {
			return parseDuration(v, time.Second, &c.AITimeout)
		}},
	}
}

// BindFlags defines every setting on fs and returns a function that, after
// fs.Parse, applies flag > environment > default and validates the result.
func BindFlags(fs *flag.FlagSet, getenv func(string) string) func() (Config, error) {
	rows := settings()
	values := make([]*string, len(rows))
	former := map[string]*string{}
	for i, s := range rows {
		values[i] = fs.String(s.flag, s.def, s.help+" ["+s.env+"]")
		if old, ok := formerNames[s.flag]; ok {
			former[s.flag] = fs.String(old.flag, s.def, "former name of --"+s.flag+" ["+old.env+"]")
		}
	}
	return func() (Config, error) {
		explicit := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
		c := DefaultConfig()
		for i, s := range rows {
			v, source := *values[i], "--"+s.flag
			old, renamed := formerNames[s.flag]
			switch {
			case explicit[s.flag]:
			case renamed && explicit[old.flag]:
				v, source = *former[s.flag], "--"+old.flag
			case getenv(s.env) != "":
				v, source = getenv(s.env), s.env
			case renamed && getenv(old.env) != "":
				v, source = getenv(old.env), old.env
			}
			if err := s.set(&c, v); err != nil {
				return Config{}, fmt.Errorf("%s: %w", source, err)
			}
		}
		// Checked here, before the data directory is touched.
		switch {
		case c.AIModel != "" && c.AIBaseURL == "":
			return Config{}, errors.New("MOMENTS_AI_MODEL is set but MOMENTS_AI_BASE_URL is not: set both, or neither")
		case c.AIBaseURL != "" && c.AIModel == "":
			return Config{}, errors.New("MOMENTS_AI_BASE_URL is set but MOMENTS_AI_MODEL is not: set both, or neither")
		}
		return c, nil
	}
}

func parseAddr(v string, dst *string) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("%q is not host:port", v)
	}
	if host != "" {
		if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err != nil && !validHostname(host) {
			return fmt.Errorf("%q has an invalid host", v)
		}
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q has an invalid port", v)
	}
	*dst = v
	return nil
}

func validHostname(h string) bool {
	if len(h) == 0 || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return false
			}
		}
	}
	return true
}

func parseDuration(v string, least time.Duration, dst *time.Duration) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("%q is not a duration like 24h or 90s", v)
	}
	if d < least {
		return fmt.Errorf("%s is shorter than %s", d, least)
	}
	*dst = d
	return nil
}

func parseSize(v string, dst *int64) error {
	mult := int64(1)
	num := v
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if strings.HasSuffix(v, u.suffix) {
			num, mult = strings.TrimSuffix(v, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return fmt.Errorf("%q is not a positive size like 10MiB", v)
	}
	*dst = n * mult
	return nil
}

func parseOrigins(v string) ([]string, error) {
	var out []string
	for _, o := range splitList(v) {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, fmt.Errorf("%q is not an origin like https://app.example.com", o)
		}
		out = append(out, u.Scheme+"://"+strings.ToLower(u.Host))
	}
	return out, nil
}

func parsePrefixes(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range splitList(v) {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not a CIDR like 10.0.0.0/8 or an address", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
