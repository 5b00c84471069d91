-- Version 5: a webhook claim reads the pending events in order and meets each contact's first before its others, so
-- nothing looks up a contact's pending events any more, and every event queued no longer pays for an index of them.
DROP INDEX IF EXISTS webhook_events_pending_contact;
