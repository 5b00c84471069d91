-- Version 4: what is pruned after its retention is found by when it was done, not by a scan of its table.
CREATE INDEX processed_messages_created ON processed_messages (created_on);
CREATE INDEX webhook_events_delivered ON webhook_events (delivered_on) WHERE status = 'delivered';
CREATE INDEX outbox_done ON outbox (COALESCE(updated_on, created_on)) WHERE status IN ('sent', 'delivered', 'read', 'skipped', 'failed', 'unsent');
