-- 004_events.sql — events as a stream (src/events): ids in commit order, webhooks per
-- tenant and their deliveries.
--
-- Readers tail the events table by id (SSE on every node, Last-Event-ID replay), so an
-- id must never become visible after a higher one: trunx_events_insert() takes a
-- transaction-scoped advisory lock before it draws ids, which makes id order the
-- commit order across every node writing to this database. The same transaction adds
-- one webhook_deliveries row per matching webhook, so a committed event always has its
-- deliveries and a replayed journal batch (ON CONFLICT) adds none twice.

CREATE INDEX events_tenant_id ON events (tenant_id, id);

CREATE TABLE webhooks (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- NULL: an operator's webhook, which receives every tenant's events.
    tenant_id   text REFERENCES tenants (id) ON DELETE CASCADE,
    url         text NOT NULL CHECK (url ~ '^https?://[!-~]+$' AND length(url) <= 2048),
    -- Event types sent; empty: all.
    types       text[] NOT NULL DEFAULT '{}',
    -- [{"secret": "whsec_...", "expires_at": null | epoch seconds}], newest first: a
    -- rotated secret keeps signing until it expires.
    secrets     jsonb NOT NULL CHECK (jsonb_typeof(secrets) = 'array'),
    description text NOT NULL DEFAULT '',
    enabled     boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_tenant ON webhooks (tenant_id);

CREATE TABLE webhook_deliveries (
    id           bigserial PRIMARY KEY,
    webhook_id   uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id     bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    tenant_id    text,
    state        text NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts     integer NOT NULL DEFAULT 0,
    -- Pending: due at; while an attempt is out, the end of its lease (a node killed
    -- mid-attempt leaves it due again then).
    next_at      timestamptz NOT NULL DEFAULT now(),
    last_status  integer,
    last_error   text,
    delivered_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, id);

-- The one JSON form of an event: SSE data and webhook bodies.
CREATE FUNCTION trunx_event_json(e events) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', e.id, 'type', e.type,
        'created_at', to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'tenant', e.tenant_id, 'call_id', e.call_id, 'trunk', e.trunk,
        'node_id', e.node_id, 'data', e.data)::text
$$;

-- Inserts a batch of event records (the journal's JSON), skipping event_ids already
-- there; returns the new ids, comma-separated, in order.
CREATE FUNCTION trunx_events_insert(batch jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    ids text;
BEGIN
    PERFORM pg_advisory_xact_lock(7374801, 1);
    WITH ins AS (
        INSERT INTO events (event_id, type, at, node_id, tenant_id, trunk, call_id, data)
        SELECT (r->>'event_id')::uuid, r->>'type', (r->>'at')::timestamptz, r->>'node_id',
               r->>'tenant', r->>'trunk', r->>'call_id', coalesce(r->'data', '{}'::jsonb)
        FROM jsonb_array_elements(batch) WITH ORDINALITY AS x (r, n)
        ORDER BY n
        ON CONFLICT (event_id) DO NOTHING
        RETURNING id, type, tenant_id
    ), dl AS (
        INSERT INTO webhook_deliveries (webhook_id, event_id, tenant_id)
        SELECT w.id, ins.id, ins.tenant_id FROM ins JOIN webhooks w
            ON w.enabled AND (w.tenant_id IS NULL OR w.tenant_id = ins.tenant_id)
               AND (cardinality(w.types) = 0 OR ins.type = ANY (w.types)
                    OR EXISTS (SELECT 1 FROM unnest(w.types) AS p (t)   -- "call.*"
                               WHERE right(p.t, 1) = '*'
                                 AND starts_with(ins.type, left(p.t, -1))))
        ON CONFLICT DO NOTHING
    )
    SELECT string_agg(id::text, ',' ORDER BY id) INTO ids FROM ins;
    RETURN coalesce(ids, '');
END
$$;
