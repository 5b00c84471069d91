-- Version 3: the WhatsApp Cloud API channel. A workspace's connection; the outbox becomes what the sender sends, with
-- each message's progress as Meta reports it; what Meta's webhooks bring is kept before it is acted on; and Meta's
-- template recategorizations are logged.
ALTER TABLE workspaces ADD COLUMN whatsapp TEXT;

-- Messages queued before this version were never meant for a sender: they stay unsent.
ALTER TABLE outbox ADD COLUMN status TEXT NOT NULL DEFAULT 'unsent';
ALTER TABLE outbox ADD COLUMN category TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN language TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN components TEXT;
ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN deferrals INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN next_attempt INTEGER;
ALTER TABLE outbox ADD COLUMN locked_until INTEGER;
ALTER TABLE outbox ADD COLUMN wamid TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN reason TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN last_error TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN updated_on INTEGER;
CREATE INDEX outbox_queued ON outbox (workspace, id) WHERE status = 'queued';
CREATE INDEX outbox_wamid ON outbox (workspace, wamid) WHERE wamid <> '';

CREATE TABLE whatsapp_inbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace    TEXT NOT NULL REFERENCES workspaces (id),
    kind         TEXT NOT NULL,
    key          TEXT NOT NULL,
    contact      TEXT NOT NULL,
    payload      TEXT NOT NULL,
    status       TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    next_attempt INTEGER NOT NULL,
    locked_until INTEGER,
    received_on  INTEGER NOT NULL,
    processed_on INTEGER,
    last_error   TEXT NOT NULL,
    UNIQUE (workspace, kind, key)
);
CREATE INDEX whatsapp_inbox_pending ON whatsapp_inbox (id) WHERE status = 'pending';
CREATE INDEX whatsapp_inbox_pending_contact ON whatsapp_inbox (workspace, contact, id) WHERE status = 'pending';
CREATE INDEX whatsapp_inbox_received ON whatsapp_inbox (received_on) WHERE status <> 'pending';

CREATE TABLE template_changes (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace         TEXT NOT NULL REFERENCES workspaces (id),
    key               TEXT NOT NULL,
    template_id       TEXT NOT NULL,
    template          TEXT NOT NULL,
    language          TEXT NOT NULL,
    previous_category TEXT NOT NULL,
    category          TEXT NOT NULL,
    announced         INTEGER NOT NULL,
    effective_on      INTEGER NOT NULL,
    applied_on        INTEGER,
    received_on       INTEGER NOT NULL,
    UNIQUE (workspace, key)
);
CREATE INDEX template_changes_workspace ON template_changes (workspace, id);
CREATE INDEX template_changes_due ON template_changes (effective_on) WHERE applied_on IS NULL;
