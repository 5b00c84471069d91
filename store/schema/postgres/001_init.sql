-- Version 1 of the schema on PostgreSQL.
CREATE TABLE workspaces (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    config         JSONB,
    webhook_url    TEXT NOT NULL,
    webhook_secret TEXT NOT NULL,
    token_hash     TEXT NOT NULL,
    version        BIGINT NOT NULL,
    created_on     BIGINT NOT NULL,
    updated_on     BIGINT NOT NULL
);
CREATE INDEX workspaces_token_hash ON workspaces (token_hash) WHERE token_hash <> '';

CREATE TABLE workspace_assets (
    workspace TEXT NOT NULL REFERENCES workspaces (id),
    kind      TEXT NOT NULL,
    key       TEXT NOT NULL,
    position  BIGINT NOT NULL,
    name      TEXT NOT NULL,
    data      JSONB NOT NULL,
    PRIMARY KEY (workspace, kind, key)
);

CREATE TABLE contacts (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace       TEXT NOT NULL REFERENCES workspaces (id),
    uuid            TEXT NOT NULL,
    urn             TEXT NOT NULL,
    name            TEXT NOT NULL,
    language        TEXT NOT NULL,
    opt_status      TEXT NOT NULL,
    opt_changed_on  BIGINT,
    last_inbound_on BIGINT,
    data            JSONB,
    created_on      BIGINT NOT NULL,
    UNIQUE (workspace, uuid),
    UNIQUE (workspace, urn)
);
CREATE INDEX contacts_opt_status ON contacts (workspace, opt_status, id);

CREATE TABLE contact_groups (
    contact_id BIGINT NOT NULL REFERENCES contacts (id),
    workspace  TEXT NOT NULL,
    group_uuid TEXT NOT NULL,
    PRIMARY KEY (contact_id, group_uuid)
);
CREATE INDEX contact_groups_group ON contact_groups (workspace, group_uuid, contact_id);

CREATE TABLE sessions (
    workspace    TEXT NOT NULL REFERENCES workspaces (id),
    contact_uuid TEXT NOT NULL,
    uuid         TEXT NOT NULL,
    data         JSONB,
    expires_on   BIGINT,
    PRIMARY KEY (workspace, contact_uuid)
);

CREATE TABLE processed_messages (
    workspace  TEXT NOT NULL REFERENCES workspaces (id),
    msg_uuid   TEXT NOT NULL,
    response   JSONB,
    created_on BIGINT NOT NULL,
    PRIMARY KEY (workspace, msg_uuid)
);

CREATE TABLE campaign_fires (
    workspace    TEXT NOT NULL REFERENCES workspaces (id),
    event_uuid   TEXT NOT NULL,
    contact_uuid TEXT NOT NULL,
    decision     TEXT NOT NULL,
    reason       TEXT NOT NULL,
    fired_on     BIGINT,
    PRIMARY KEY (workspace, event_uuid, contact_uuid)
);

CREATE TABLE consent_events (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
    occurred_on   BIGINT
);
CREATE INDEX consent_events_workspace ON consent_events (workspace, id);
CREATE INDEX consent_events_urn ON consent_events (workspace, urn, id);

CREATE TABLE webhook_events (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uuid         TEXT NOT NULL UNIQUE,
    workspace    TEXT NOT NULL REFERENCES workspaces (id),
    contact_uuid TEXT NOT NULL,
    body         TEXT NOT NULL,
    status       TEXT NOT NULL,
    attempts     INT NOT NULL,
    next_attempt BIGINT NOT NULL,
    locked_until BIGINT,
    created_on   BIGINT NOT NULL,
    delivered_on BIGINT,
    last_error   TEXT NOT NULL
);
CREATE INDEX webhook_events_workspace ON webhook_events (workspace, seq);
CREATE INDEX webhook_events_workspace_status ON webhook_events (workspace, status, seq);
CREATE INDEX webhook_events_pending ON webhook_events (seq) WHERE status = 'pending';
CREATE INDEX webhook_events_pending_contact ON webhook_events (workspace, contact_uuid, seq) WHERE status = 'pending';

CREATE TABLE webhook_attempts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_seq   BIGINT NOT NULL REFERENCES webhook_events (seq),
    number      INT NOT NULL,
    started_on  BIGINT,
    duration    BIGINT NOT NULL,
    status_code INT NOT NULL,
    error       TEXT NOT NULL
);
CREATE INDEX webhook_attempts_event ON webhook_attempts (event_seq, id);

CREATE TABLE broadcasts (
    id          TEXT PRIMARY KEY,
    workspace   TEXT NOT NULL REFERENCES workspaces (id),
    request     JSONB,
    dry_run     BOOLEAN NOT NULL,
    created_on  BIGINT,
    sent        BIGINT NOT NULL,
    skipped     JSONB NOT NULL,
    recipients  BIGINT NOT NULL,
    finished_on BIGINT
);

CREATE TABLE broadcast_recipients (
    broadcast_id TEXT NOT NULL REFERENCES broadcasts (id),
    seq          BIGINT NOT NULL,
    urn          TEXT NOT NULL,
    decision     TEXT NOT NULL,
    reason       TEXT NOT NULL,
    PRIMARY KEY (broadcast_id, seq)
);

CREATE TABLE outbox (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace    TEXT NOT NULL REFERENCES workspaces (id),
    contact_uuid TEXT NOT NULL,
    urn          TEXT NOT NULL,
    channel_uuid TEXT NOT NULL,
    text         TEXT NOT NULL,
    template     TEXT NOT NULL,
    source       TEXT NOT NULL,
    broadcast_id TEXT NOT NULL,
    created_on   BIGINT
);
CREATE INDEX outbox_workspace ON outbox (workspace, id);
