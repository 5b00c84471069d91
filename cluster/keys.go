package cluster

import (
	"net/url"
	"strings"

	"github.com/nyaruka/gocommon/urns"
)

// keys names the Redis keys, all under one prefix. Workspace IDs and URNs may contain any character, the key
// separator included, so each part is query-escaped: escaping is reversible, hence two different parts never give
// one key, and an escaped part has no colon, hence no key is another's with a suffix added.
type keys string

func (k keys) lock(workspace string, urn urns.URN) string {
	return k.join("lock", workspace, member(urn))
}

func (k keys) join(kind string, parts ...string) string {
	var b strings.Builder
	b.WriteString(string(k))
	b.WriteString(":")
	b.WriteString(kind)
	for _, p := range parts {
		b.WriteString(":")
		b.WriteString(url.QueryEscape(p))
	}
	return b.String()
}

// member is how a URN is known in keys: its identity, without the channel or display that the same contact may come
// with on different messages.
func member(urn urns.URN) string {
	return string(urn.Identity())
}
