-- 003_api_keys.sql — the HTTP API's keys (src/api): only the SHA-256 of each key is
-- stored; the key itself (tk_live_<random>) is shown once, when it is created.
-- tenant_id NULL: an operator key (every tenant, infrastructure routes).

CREATE TABLE api_keys (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    key_hash    text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    -- The first characters of the key, to recognise it in lists ("tk_live_ab12").
    prefix      text NOT NULL CHECK (prefix ~ '^tk_live_[A-Za-z0-9]{0,8}$'),
    name        text NOT NULL DEFAULT '' CHECK (length(name) <= 100),
    tenant_id   text REFERENCES tenants (id) ON DELETE CASCADE,
    scopes      text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);
