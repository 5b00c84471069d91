package webhook

import (
	"net/netip"
	"strings"
)

// reserved are the ranges that are not public besides those that netip.Addr's methods know: loopback, RFC 1918 and
// fc00::/7, link-local, multicast and unspecified.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT, often a cloud's internal network
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking, used inside networks
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and the broadcast address
	netip.MustParsePrefix("100::/64"),       // discard-only
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("2001::/32"),      // Teredo, whose client address is obfuscated
	netip.MustParsePrefix("fec0::/10"),      // site-local, deprecated but still routed by some
}

// embedders are IPv6 ranges that carry an IPv4 address, with the byte it starts at: such an address reaches the
// IPv4 one through a translator, so it is private when the IPv4 one is.
var embedders = []struct {
	prefix netip.Prefix
	at     int
}{
	{netip.MustParsePrefix("::ffff:0:0/96"), 12}, // IPv4-mapped
	{netip.MustParsePrefix("::/96"), 12},         // IPv4-compatible, deprecated
	{netip.MustParsePrefix("64:ff9b::/96"), 12},  // NAT64
	{netip.MustParsePrefix("2002::/16"), 2},      // 6to4
}

// nonPublic returns what kind of address that isn't public addr is, to name it in errors, or "" for a public one:
// loopback, private (RFC 1918 and fc00::/7), link-local, unspecified, multicast or reserved, directly or embedded
// in an IPv6 address.
func nonPublic(addr netip.Addr) string {
	addr = addr.WithZone("") // a prefix contains no address with a zone
	switch {
	case !addr.IsValid():
		return "invalid"
	case addr.IsLoopback():
		return "loopback"
	case addr.IsPrivate():
		return "private"
	case addr.IsLinkLocalUnicast():
		return "link-local"
	case addr.IsUnspecified():
		return "unspecified"
	case addr.IsMulticast():
		return "multicast"
	}
	for _, e := range embedders {
		if e.prefix.Contains(addr) {
			b := addr.As16()
			return nonPublic(netip.AddrFrom4([4]byte(b[e.at : e.at+4])))
		}
	}
	for _, p := range reserved {
		if p.Contains(addr) {
			return "reserved"
		}
	}
	return ""
}

// withArticle puts "a" or "an" before a kind of address.
func withArticle(kind string) string {
	if strings.ContainsRune("aeiou", rune(kind[0])) {
		return "an " + kind
	}
	return "a " + kind
}
