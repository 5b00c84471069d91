package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/optout-dev/optout/internal/quote"
)

// Resolver looks up the addresses of host names. *net.Resolver is one; tests give a fake, as they can't use DNS.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Policy decides where webhooks may go: http(s) URLs without credentials, and, unless AllowPrivate, only public
// addresses, so that a workspace can't make the service post to its own network or a cloud's metadata endpoint.
// What a URL says on its face (its scheme, a literal private address, localhost) is checked when it is configured,
// to tell the user at once; the addresses a host name resolves to are checked by the client's dialer on the address
// actually connected to, at every connection, because a name resolves to whatever its owner says at the time (DNS
// rebinding), and need not resolve at all when it is configured (DNS may be down, the name made later).
type Policy struct {
	AllowPrivate bool     // for development and tests, where receivers run on loopback
	Resolver     Resolver // nil: net.DefaultResolver
}

// CheckURL checks a webhook URL as it is configured, without resolving its host, with an error that names the
// problem. The worker checks it again before each attempt, and the dialer checks the addresses it connects to.
func (p *Policy) CheckURL(raw string) error {
	_, err := p.parse(raw)
	return err
}

// parse checks what can be checked of a URL without resolving its host.
func (p *Policy) parse(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // without the URL, which the user has and which may hold credentials
		}
		return nil, fmt.Errorf("webhook.url: not a URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("webhook.url: scheme %q is not http or https", u.Scheme)
	}
	if u.User != nil {
		return nil, errors.New("webhook.url: userinfo (user:password@) is not allowed, the signature authenticates the service")
	}
	host := u.Hostname()
	if host == "" {
		return nil, errors.New("webhook.url: no host")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("webhook.url: port %s is not a port from 1 to 65535", quote.Q(port))
		}
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if kind := nonPublic(addr); !p.AllowPrivate && kind != "" {
			return nil, fmt.Errorf("webhook.url: host %q is %s address", host, withArticle(kind))
		}
		return u, nil
	}
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if last := name[strings.LastIndexByte(name, '.')+1:]; isNumeric(last) {
		// 127.1, 2130706433 or 0x7f.1 are addresses to some resolvers and names to others: refuse the ambiguity
		return nil, fmt.Errorf("webhook.url: host %q is neither an IP address nor a host name", host)
	}
	if !p.AllowPrivate && (name == "localhost" || strings.HasSuffix(name, ".localhost")) {
		return nil, fmt.Errorf("webhook.url: host %q is the local machine", host)
	}
	return u, nil
}

// isNumeric reports whether a label of a host name is a decimal or hex number, which no top-level domain is.
func isNumeric(label string) bool {
	if hex, ok := strings.CutPrefix(label, "0x"); ok {
		return strings.Trim(hex, "0123456789abcdef") == ""
	}
	return label != "" && strings.Trim(label, "0123456789") == ""
}

// Client returns the HTTP client that delivers webhooks. Its dialer resolves host names with the policy's resolver
// and refuses to connect to a private address unless AllowPrivate; it uses no proxy, which would connect on its
// behalf where the dialer can't see; it follows no redirect, so a 3xx is the response; and timeout bounds a whole
// request, from connecting to reading the response.
func (p *Policy) Client(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if !p.AllowPrivate {
		dialer.Control = refusePrivate
	}
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(address)
		if err != nil {
			return nil, err
		}
		addrs, err := p.lookup(ctx, ipNetwork(network), host)
		if err != nil {
			return nil, err
		}
		err = fmt.Errorf("host %q resolves to no address", host)
		for _, addr := range addrs {
			var conn net.Conn
			if conn, err = dialer.DialContext(ctx, network, net.JoinHostPort(addr.String(), port)); err == nil {
				return conn, nil
			}
		}
		return nil, err
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            dial,
			ForceAttemptHTTP2:      true,
			MaxIdleConnsPerHost:    16,
			IdleConnTimeout:        90 * time.Second,
			TLSHandshakeTimeout:    5 * time.Second,
			ExpectContinueTimeout:  time.Second,
			MaxResponseHeaderBytes: 64 << 10,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       timeout,
	}
}

// refusePrivate is the dialer's Control: it sees the address of the socket about to connect, whatever resolved it.
func refusePrivate(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("refusing to connect to %q: %w", address, err)
	}
	if kind := nonPublic(ap.Addr()); kind != "" {
		return fmt.Errorf("refusing to connect to %s address %s", kind, ap.Addr())
	}
	return nil
}

// lookup returns the addresses of a host, which is its own when it is an address.
func (p *Policy) lookup(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if addr, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{addr}, nil
	}
	if p.Resolver != nil {
		return p.Resolver.LookupNetIP(ctx, network, host)
	}
	return net.DefaultResolver.LookupNetIP(ctx, network, host)
}

// ipNetwork is the lookup network for a dial network, so that tcp4 resolves only IPv4 addresses.
func ipNetwork(network string) string {
	switch network {
	case "tcp4":
		return "ip4"
	case "tcp6":
		return "ip6"
	}
	return "ip"
}
