-- Version 1 of the schema on SQLite.
CREATE TABLE workspaces (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    config         TEXT,
    webhook_url    TEXT NOT NULL,
    webhook_secret TEXT NOT NULL,
    token_hash     TEXT NOT NULL,
    version        INTEGER NOT NULL,
    created_on     INTEGER NOT NULL,
    updated_on     INTEGER NOT NULL
);
CREATE INDEX workspaces_token_hash ON workspaces (token_hash) WHERE token_hash <> '';

CREATE TABLE workspace_assets (
    workspace TEXT NOT NULL REFERENCES workspaces (id),
    kind      TEXT NOT NULL,
    key       TEXT NOT NULL,
    position  INTEGER NOT NULL,
    name      TEXT NOT NULL,
    data      TEXT NOT NULL,
    PRIMARY KEY (workspace, kind, key)
);

CREATE TABLE contacts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace       TEXT NOT NULL REFERENCES workspaces (id),
    uuid            TEXT NOT NULL,
    urn             TEXT NOT NULL,
    name            TEXT NOT NULL,
    language        TEXT NOT NULL,
    opt_status      TEXT NOT NULL,
    opt_changed_on  INTEGER,
    last_inbound_on INTEGER,
    data            TEXT,
    created_on      INTEGER NOT NULL,
    UNIQUE (workspace, uuid),
    UNIQUE (workspace, urn)
);
CREATE INDEX contacts_opt_status ON contacts (workspace, opt_status, id);

CREATE TABLE contact_groups (
    contact_id INTEGER NOT NULL REFERENCES contacts (id),
    workspace  TEXT NOT NULL,
    group_uuid TEXT NOT NULL,
    PRIMARY KEY (contact_id, group_uuid)
);
CREATE INDEX contact_groups_group ON contact_groups (workspace, group_uuid, contact_id);

CREATE TABLE sessions (
    workspace    TEXT NOT NULL REFERENCES workspaces (id),
    contact_uuid TEXT NOT NULL,
    uuid         TEXT NOT NULL,
    data         TEXT,
    expires_on   INTEGER,
    PRIMARY KEY (workspace, contact_uuid)
);

CREATE TABLE processed_messages (
    workspace  TEXT NOT NULL REFERENCES workspaces (id),
    msg_uuid   TEXT NOT NULL,
    response   TEXT,
    created_on INTEGER NOT NULL,
    PRIMARY KEY (workspace, msg_uuid)
);

CREATE TABLE campaign_fires (
    workspace    TEXT NOT NULL REFERENCES workspaces (id),
    event_uuid   TEXT NOT NULL,
    contact_uuid TEXT NOT NULL,
    decision     TEXT NOT NULL,
    reason       TEXT NOT NULL,
    fired_on     INTEGER,
    PRIMARY KEY (workspace, event_uuid, contact_uuid)
);

CREATE TABLE consent_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace     TEXT NOT NULL REFERENCES workspaces (id),
    contact_uuid  TEXT NOT NULL,
    urn           TEXT NOT NULL,
    status_before TEXT NOT NULL,
    status_after  TEXT NOT NULL,
    keyword       TEXT NOT NULL,
    language      TEXT NOT NULL,
    msg_uuid      TEXT NOT NULL,
    channel_uuid  TEXT NOT NULL,
    source        TEXT NOT NULL,
    occurred_on   INTEGER
);
CREATE INDEX consent_events_workspace ON consent_events (workspace, id);
CREATE INDEX consent_events_urn ON consent_events (workspace, urn, id);

CREATE TABLE webhook_events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid         TEXT NOT NULL UNIQUE,
    workspace    TEXT NOT NULL REFERENCES workspaces (id),
    contact_uuid TEXT NOT NULL,
    body         TEXT NOT NULL,
    status       TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    next_attempt INTEGER NOT NULL,
    locked_until INTEGER,
    created_on   INTEGER NOT NULL,
    delivered_on INTEGER,
    last_error   TEXT NOT NULL
);
CREATE INDEX webhook_events_workspace ON webhook_events (workspace, seq);
CREATE INDEX webhook_events_workspace_status ON webhook_events (workspace, status, seq);
CREATE INDEX webhook_events_pending ON webhook_events (seq) WHERE status = 'pending';
CREATE INDEX webhook_events_pending_contact ON webhook_events (workspace, contact_uuid, seq) WHERE status = 'pending';

CREATE TABLE webhook_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_seq   INTEGER NOT NULL REFERENCES webhook_events (seq),
    number      INTEGER NOT NULL,
    started_on  INTEGER,
    duration    INTEGER NOT NULL,
    status_code INTEGER NOT NULL,
    error       TEXT NOT NULL
);
CREATE INDEX webhook_attempts_event ON webhook_attempts (event_seq, id);

CREATE TABLE broadcasts (
    id          TEXT PRIMARY KEY,
    workspace   TEXT NOT NULL REFERENCES workspaces (id),
    request     TEXT,
    dry_run     INTEGER NOT NULL,
    created_on  INTEGER,
    sent        INTEGER NOT NULL,
    skipped     TEXT NOT NULL,
    recipients  INTEGER NOT NULL,
    finished_on INTEGER
);

CREATE TABLE broadcast_recipients (
    broadcast_id TEXT NOT NULL REFERENCES broadcasts (id),
    seq          INTEGER NOT NULL,
    urn          TEXT NOT NULL,
    decision     TEXT NOT NULL,
    reason       TEXT NOT NULL,
    PRIMARY KEY (broadcast_id, seq)
);

CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace    TEXT NOT NULL REFERENCES workspaces (id),
    contact_uuid TEXT NOT NULL,
    urn          TEXT NOT NULL,
    channel_uuid TEXT NOT NULL,
    text         TEXT NOT NULL,
    template     TEXT NOT NULL,
    source       TEXT NOT NULL,
    broadcast_id TEXT NOT NULL,
    created_on   INTEGER
);
CREATE INDEX outbox_workspace ON outbox (workspace, id);
