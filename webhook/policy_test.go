package webhook_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/webhook"
)

const publicIPv4, publicIPv6 = "93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"

func newResolver() *fakeResolver {
	return &fakeResolver{answers: map[string][][]string{
		"hooks.example.com":    {{publicIPv4}},
		"v6.example.com":       {{publicIPv6}},
		"both.example.com":     {{publicIPv4, publicIPv6}},
		"internal.example.com": {{"10.0.0.5"}},
		"mixed.example.com":    {{publicIPv4, "192.168.0.10"}},
		"mapped.example.com":   {{"::ffff:127.0.0.1"}},
		"metadata.example.com": {{"fd00:ec2::254"}},
		"empty.example.com":    {{}},
	}}
}

func TestCheckURL(t *testing.T) {
	policy := &webhook.Policy{Resolver: &fakeResolver{}} // any lookup would fail: none is made

	for _, raw := range []string{
		"https://hooks.example.com/optout",
		"http://hooks.example.com:8080/optout?workspace=acme#ignored",
		"HTTPS://HOOKS.EXAMPLE.COM./optout",
		"https://v6.example.com/",
		"https://both.example.com/",
		"https://" + publicIPv4 + "/",
		"https://[" + publicIPv6 + "]:8443/",
		"http://11.0.0.1/",       // next to 10/8
		"http://172.15.255.255/", // before 172.16/12
		"http://172.32.0.1/",     // after it
		"http://192.169.0.1/",
		"http://100.63.255.255/", // before CGNAT
		"http://100.128.0.1/",    // after it
		"http://169.255.0.1/",
		"http://[2001:4860:4860::8888]/",
		"https://hooks.example.com:65535/",
		"https://hooks.example.com:1/",
		// a name is not resolved when it is configured (DNS may be down, the name made later); the dialer checks
		// what it resolves to at every connection
		"https://acme.example/optout",
		"https://internal.example.com/",
	} {
		assert.NoError(t, policy.CheckURL(raw), "for %s", raw)
	}

	for _, tc := range []struct{ raw, err string }{
		{"ftp://hooks.example.com/", `webhook.url: scheme "ftp" is not http or https`},
		{"hooks.example.com/optout", `webhook.url: scheme "" is not http or https`},
		{"javascript:alert(1)", `webhook.url: scheme "javascript" is not http or https`},
		{"https://user:pass@hooks.example.com/", `webhook.url: userinfo (user:password@) is not allowed, the signature authenticates the service`},
		{"https://user@hooks.example.com/", `webhook.url: userinfo (user:password@) is not allowed, the signature authenticates the service`},
		{"https:///optout", `webhook.url: no host`},
		{"https://:8080/optout", `webhook.url: no host`},
		{"http:hooks.example.com", `webhook.url: no host`},
		{"", `webhook.url: scheme "" is not http or https`},
		{"https://hooks.example.com:port/", `webhook.url: not a URL: invalid port ":port" after host`},
		{"https://hooks.example.com/%zz", `webhook.url: not a URL: invalid URL escape "%zz"`},
		{"https://hooks.example.com:0/", `webhook.url: port "0" is not a port from 1 to 65535`},
		{"https://hooks.example.com:65536/", `webhook.url: port "65536" is not a port from 1 to 65535`},
		{"https://hooks.example.com:99999999999999999999/", `webhook.url: port "99999999999999999999" is not a port from 1 to 65535`},

		{"http://127.0.0.1/", `webhook.url: host "127.0.0.1" is a loopback address`},
		{"http://127.255.255.254:8080/", `webhook.url: host "127.255.255.254" is a loopback address`},
		{"http://10.0.0.5/", `webhook.url: host "10.0.0.5" is a private address`},
		{"http://10.255.255.255/", `webhook.url: host "10.255.255.255" is a private address`},
		{"http://172.16.0.1/", `webhook.url: host "172.16.0.1" is a private address`},
		{"http://172.31.255.255/", `webhook.url: host "172.31.255.255" is a private address`},
		{"http://192.168.1.1/", `webhook.url: host "192.168.1.1" is a private address`},
		{"http://169.254.169.254/latest/meta-data/", `webhook.url: host "169.254.169.254" is a link-local address`},
		{"http://100.64.0.1/", `webhook.url: host "100.64.0.1" is a reserved address`},
		{"http://100.127.255.255/", `webhook.url: host "100.127.255.255" is a reserved address`},
		{"http://0.0.0.0/", `webhook.url: host "0.0.0.0" is an unspecified address`},
		{"http://0.1.2.3/", `webhook.url: host "0.1.2.3" is a reserved address`},
		{"http://192.0.0.170/", `webhook.url: host "192.0.0.170" is a reserved address`},
		{"http://198.18.0.1/", `webhook.url: host "198.18.0.1" is a reserved address`},
		{"http://224.0.0.1/", `webhook.url: host "224.0.0.1" is a multicast address`},
		{"http://240.0.0.1/", `webhook.url: host "240.0.0.1" is a reserved address`},
		{"http://255.255.255.255/", `webhook.url: host "255.255.255.255" is a reserved address`},
		{"http://[::1]/", `webhook.url: host "::1" is a loopback address`},
		{"http://[::]/", `webhook.url: host "::" is an unspecified address`},
		{"http://[fc00::1]/", `webhook.url: host "fc00::1" is a private address`},
		{"http://[fd12:3456::1]/", `webhook.url: host "fd12:3456::1" is a private address`},
		{"http://[fe80::1]/", `webhook.url: host "fe80::1" is a link-local address`},
		{"http://[fe80::1%25eth0]/", `webhook.url: host "fe80::1%eth0" is a link-local address`},
		{"http://[febf::1]/", `webhook.url: host "febf::1" is a link-local address`},
		{"http://[fec0::1]/", `webhook.url: host "fec0::1" is a reserved address`},
		{"http://[ff02::1]/", `webhook.url: host "ff02::1" is a multicast address`},
		{"http://[::ffff:127.0.0.1]/", `webhook.url: host "::ffff:127.0.0.1" is a loopback address`},
		{"http://[::ffff:10.0.0.5]/", `webhook.url: host "::ffff:10.0.0.5" is a private address`},
		{"http://[::ffff:a9fe:a9fe]/", `webhook.url: host "::ffff:a9fe:a9fe" is a link-local address`},
		{"http://[::ffff:100.64.0.1]/", `webhook.url: host "::ffff:100.64.0.1" is a reserved address`},
		{"http://[::ffff:0.0.0.0]/", `webhook.url: host "::ffff:0.0.0.0" is an unspecified address`},
		{"http://[::127.0.0.1]/", `webhook.url: host "::127.0.0.1" is a loopback address`},
		{"http://[64:ff9b::a00:5]/", `webhook.url: host "64:ff9b::a00:5" is a private address`},
		{"http://[2002:c0a8:101::1]/", `webhook.url: host "2002:c0a8:101::1" is a private address`},

		{"http://localhost/", `webhook.url: host "localhost" is the local machine`},
		{"http://LocalHost.:8080/", `webhook.url: host "LocalHost." is the local machine`},
		{"http://api.localhost/", `webhook.url: host "api.localhost" is the local machine`},
		{"http://127.1/", `webhook.url: host "127.1" is neither an IP address nor a host name`},
		{"http://2130706433/", `webhook.url: host "2130706433" is neither an IP address nor a host name`},
		{"http://0x7f.0.0.1/", `webhook.url: host "0x7f.0.0.1" is neither an IP address nor a host name`},
		{"http://hooks.example.com.0x1/", `webhook.url: host "hooks.example.com.0x1" is neither an IP address nor a host name`},
	} {
		assert.EqualError(t, policy.CheckURL(tc.raw), tc.err, "for %s", tc.raw)
	}
}

func TestCheckURLAllowPrivate(t *testing.T) {
	policy := &webhook.Policy{AllowPrivate: true, Resolver: &fakeResolver{}} // any lookup would fail

	for _, raw := range []string{
		"http://127.0.0.1:8080/hook",
		"http://10.0.0.5/",
		"http://[::1]/",
		"http://localhost:3000/",
		"https://internal.example.com/", // not resolved: nothing to check
	} {
		assert.NoError(t, policy.CheckURL(raw), "for %s", raw)
	}

	// the rest of the policy still holds
	assert.EqualError(t, policy.CheckURL("ftp://127.0.0.1/"), `webhook.url: scheme "ftp" is not http or https`)
	assert.EqualError(t, policy.CheckURL("http://u:p@127.0.0.1/"), `webhook.url: userinfo (user:password@) is not allowed, the signature authenticates the service`)
	assert.EqualError(t, policy.CheckURL("http:///"), `webhook.url: no host`)
	assert.EqualError(t, policy.CheckURL("http://127.1/"), `webhook.url: host "127.1" is neither an IP address nor a host name`)
}

// receiver is a loopback server that counts its requests.
func receiver(t *testing.T, handler http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	var count atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		count.Add(1)
		if handler != nil {
			handler(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &count
}

func TestClientRefusesPrivateAddresses(t *testing.T) {
	srv, count := receiver(t, nil)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	post := func(client *http.Client, url string) error {
		resp, err := client.Post(url, "application/json", strings.NewReader(`{}`))
		if err == nil {
			resp.Body.Close()
		}
		return err
	}

	client := (&webhook.Policy{}).Client(5 * time.Second)
	assert.Nil(t, client.Transport.(*http.Transport).Proxy, "a proxy would connect where the dialer can't check")
	assert.ErrorContains(t, post(client, srv.URL), fmt.Sprintf("dial tcp 127.0.0.1:%d: refusing to connect to loopback address 127.0.0.1", port))

	// a host name that the URL check accepts without resolving it, and that is loopback when the client connects
	policy := &webhook.Policy{Resolver: &fakeResolver{answers: map[string][][]string{
		"rebind.example.com": {{"127.0.0.1"}},
		"mapped.example.com": {{"::ffff:127.0.0.1"}},
		"v6.example.com":     {{"::1"}},
	}}}
	hook := fmt.Sprintf("http://rebind.example.com:%d/hook", port)
	require.NoError(t, policy.CheckURL(hook))
	client = policy.Client(5 * time.Second)
	assert.ErrorContains(t, post(client, hook), fmt.Sprintf("dial tcp 127.0.0.1:%d: refusing to connect to loopback address 127.0.0.1", port))
	assert.ErrorContains(t, post(client, fmt.Sprintf("http://mapped.example.com:%d/hook", port)), "refusing to connect to loopback address 127.0.0.1")
	assert.ErrorContains(t, post(client, fmt.Sprintf("http://v6.example.com:%d/hook", port)), "refusing to connect to loopback address ::1")
	assert.Zero(t, count.Load(), "the receiver got a request")

	// names that resolve to private addresses, to none, or not at all, which CheckURL accepted without resolving them
	client = (&webhook.Policy{Resolver: newResolver()}).Client(5 * time.Second)
	for name, refusal := range map[string]string{
		"internal.example.com": "refusing to connect to private address 10.0.0.5",
		"mapped.example.com":   "refusing to connect to loopback address 127.0.0.1",
		"metadata.example.com": "refusing to connect to private address fd00:ec2::254",
		"empty.example.com":    `host "empty.example.com" resolves to no address`,
		"nowhere.example.com":  "lookup nowhere.example.com: no such host",
	} {
		assert.ErrorContains(t, post(client, fmt.Sprintf("http://%s:%d/hook", name, port)), refusal, name)
	}
	assert.Zero(t, count.Load(), "the receiver got a request")

	// AllowPrivate lets the same client connect
	client = (&webhook.Policy{AllowPrivate: true, Resolver: &fakeResolver{answers: map[string][][]string{"rebind.example.com": {{"127.0.0.1"}}}}}).Client(5 * time.Second)
	assert.NoError(t, post(client, hook))
	assert.Equal(t, int32(1), count.Load())
}
