// Package webhook tells a workspace's business about consent changes. It builds the body of each notification, which
// the service writes to the store's outbox in the same transaction as the change, and a Worker delivers the outbox:
// signed POSTs to the workspace's URL, retried with exponential backoff for at least a day, at least once, in order
// per contact, with every attempt in the store's delivery log. A Policy keeps those POSTs away from the service's own
// network: only http(s) URLs, and no private, loopback or link-local address, checked both when the URL is
// configured and when the connection is made.
package webhook
