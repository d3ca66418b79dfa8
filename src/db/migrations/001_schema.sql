-- 001_schema.sql — trunx's system of record: tenants, carrier trunks, customer peers,
-- DIDs, outbound routes, channel pools, settings, call records and events.
--
-- Applied by trunxd at start-up (src/db/db_migrate.c) inside one transaction, under an
-- advisory lock so that nodes starting together apply it once. Names follow the
-- reference design of carrier trunks as data: adding a carrier is one carrier_trunks
-- row plus its did_numbers rows.

CREATE TABLE tenants (
    id             text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_.-]{1,63}$'),
    name           text NOT NULL DEFAULT '',
    status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    -- The tenant's runtime configuration: NULL (or without an integer
    -- contract_version) means "not configured", and its DIDs get that answer.
    runtime_config jsonb,
    -- Concurrent calls of this tenant across every node; NULL: settings.tenant_max_calls.
    max_calls      integer CHECK (max_calls >= 0),
    -- Caller ID (E.164) used when the tenant's PBX does not ask for one it owns.
    default_did    text CHECK (default_did ~ '^\+[1-9][0-9]{0,14}$'),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- A carrier (system level, not tenant scoped).
CREATE TABLE carrier_trunks (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                 text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9_.-]{1,63}$'),
    provider             text NOT NULL DEFAULT '',
    description          text,
    connection_type      text NOT NULL DEFAULT 'direct'
                         CHECK (connection_type IN ('direct', 'nuc')),
    -- Where calls to the carrier go; NULL: the trunk only sends calls.
    endpoint_host        text CHECK (endpoint_host ~ '^[A-Za-z0-9.:-]{1,253}$'),
    endpoint_port        integer NOT NULL DEFAULT 5060 CHECK (endpoint_port BETWEEN 1 AND 65535),
    transport            text NOT NULL DEFAULT 'udp' CHECK (transport IN ('udp', 'tcp', 'tls')),
    -- Sources identified as this trunk; empty: none (outbound only, or digest only
    -- with 0.0.0.0/0). Where several trunks claim a source, digest decides.
    identify_match_ips   cidr[] NOT NULL DEFAULT '{}',
    identify_port        integer NOT NULL DEFAULT 0 CHECK (identify_port BETWEEN 0 AND 65535),
    auth_type            text NOT NULL DEFAULT 'none' CHECK (auth_type IN ('none', 'userpass')),
    auth_username        text CHECK (auth_username ~ '^[!-~]{1,63}$'),
    auth_secret          text CHECK (length(auth_secret) BETWEEN 1 AND 127),
    -- Challenge this trunk's INVITEs (401) and identify it by auth_username.
    inbound_auth         boolean NOT NULL DEFAULT false,
    -- Registration-based trunk: REGISTER auth_username at endpoint_host.
    registration         boolean NOT NULL DEFAULT false,
    register_expires     integer NOT NULL DEFAULT 300 CHECK (register_expires BETWEEN 60 AND 86400),
    codecs               text[] NOT NULL DEFAULT '{PCMA,PCMU}',
    -- OPTIONS every this many seconds; 0: no qualify.
    qualify_frequency    integer NOT NULL DEFAULT 0 CHECK (qualify_frequency BETWEEN 0 AND 3600),
    outbound_dial_format text NOT NULL DEFAULT 'asis'
                         CHECK (outbound_dial_format IN ('asis', 'leading_zero', 'plus_e164')),
    status               text NOT NULL DEFAULT 'active'
                         CHECK (status IN ('active', 'inactive', 'maintenance')),
    -- Channel pools (channel_pools) are shared by the trunks of a group.
    trunk_group          text NOT NULL DEFAULT 'default' CHECK (trunk_group ~ '^[A-Za-z0-9_.-]{1,63}$'),
    -- Carrier oddities: country_code, national_prefix, international_prefix,
    -- session_expires, min_se, "100rel", trusted, pass_headers.
    configuration        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(configuration) = 'object'),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (auth_type = 'none' OR (auth_username IS NOT NULL AND auth_secret IS NOT NULL)),
    CHECK (NOT inbound_auth OR auth_type = 'userpass'),
    CHECK (NOT registration OR (auth_type = 'userpass' AND endpoint_host IS NOT NULL))
);

-- A tenant's PBX (customer SIP peer): its calls go out through the carrier trunks,
-- the tenant's DIDs come in to it.
CREATE TABLE customer_peers (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id            text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name                 text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9_.-]{1,63}$'),
    host                 text CHECK (host ~ '^[A-Za-z0-9.:-]{1,253}$'),
    port                 integer NOT NULL DEFAULT 5060 CHECK (port BETWEEN 1 AND 65535),
    transport            text NOT NULL DEFAULT 'udp' CHECK (transport IN ('udp', 'tcp', 'tls')),
    identify_match_ips   cidr[] NOT NULL DEFAULT '{}',
    identify_port        integer NOT NULL DEFAULT 0 CHECK (identify_port BETWEEN 0 AND 65535),
    auth_username        text CHECK (auth_username ~ '^[!-~]{1,63}$'),
    auth_secret          text CHECK (length(auth_secret) BETWEEN 1 AND 127),
    inbound_auth         boolean NOT NULL DEFAULT false,
    codecs               text[] NOT NULL DEFAULT '{PCMA,PCMU}',
    qualify_frequency    integer NOT NULL DEFAULT 0 CHECK (qualify_frequency BETWEEN 0 AND 3600),
    -- How the DID is written in the request-URI sent to the PBX.
    outbound_dial_format text NOT NULL DEFAULT 'plus_e164'
                         CHECK (outbound_dial_format IN ('asis', 'leading_zero', 'plus_e164')),
    status               text NOT NULL DEFAULT 'active'
                         CHECK (status IN ('active', 'inactive', 'maintenance')),
    configuration        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(configuration) = 'object'),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (NOT inbound_auth OR (auth_username IS NOT NULL AND auth_secret IS NOT NULL))
);

CREATE TABLE did_numbers (
    number           text PRIMARY KEY CHECK (number ~ '^\+[1-9][0-9]{0,14}$'),
    trunk_id         uuid REFERENCES carrier_trunks (id) ON DELETE SET NULL,
    -- NULL: the number is not assigned (its calls get the "unassigned" answer).
    tenant_id        text REFERENCES tenants (id) ON DELETE SET NULL,
    destination_type text NOT NULL DEFAULT 'peer'
                     CHECK (destination_type IN ('peer', 'uri', 'announcement')),
    peer_id          uuid REFERENCES customer_peers (id) ON DELETE SET NULL,
    -- 'uri': a sip: URI template ({did}, {national}).
    destination_uri  text CHECK (destination_uri ~ '^sips?:[!-~]{1,240}$'),
    -- 'announcement': the recording to play (a SIP code answers until the media
    -- engine plays recordings).
    announcement     text,
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX did_numbers_tenant ON did_numbers (tenant_id);

-- Outbound route rules: longest prefix, then lowest priority, then weight.
CREATE TABLE outbound_routes (
    id        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- NULL: a rule for every tenant.
    tenant_id text REFERENCES tenants (id) ON DELETE CASCADE,
    -- Digits of the E.164 number (no '+'); '' matches everything.
    prefix    text NOT NULL DEFAULT '' CHECK (prefix ~ '^[0-9]{0,15}$'),
    priority  integer NOT NULL DEFAULT 100 CHECK (priority BETWEEN 0 AND 1000000),
    weight    integer NOT NULL DEFAULT 1 CHECK (weight BETWEEN 1 AND 1000000),
    trunk_id  uuid NOT NULL REFERENCES carrier_trunks (id) ON DELETE CASCADE,
    enabled   boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Channel budgets over a trunk group's capacity.
CREATE TABLE channel_pools (
    trunk_group text NOT NULL CHECK (trunk_group ~ '^[A-Za-z0-9_.-]{1,63}$'),
    pool        text NOT NULL CHECK (pool ~ '^[A-Za-z0-9_.-]{1,31}$'),
    channels    integer NOT NULL CHECK (channels >= 0),
    PRIMARY KEY (trunk_group, pool)
);
INSERT INTO channel_pools VALUES
    ('default', 'campaign', 60), ('default', 'ivr', 15), ('default', 'api', 8);

-- Settings shared by every node (docs/OPERATIONS.md lists the keys).
CREATE TABLE settings (
    key   text PRIMARY KEY CHECK (key ~ '^[a-z0-9_]{1,63}$'),
    value text NOT NULL
);
INSERT INTO settings VALUES
    ('global_max_calls', '0'),
    ('tenant_max_calls', '0'),
    ('inbound_pool', 'ivr'),
    ('outbound_pool', 'api'),
    ('answer_unassigned', '404'),
    ('answer_unconfigured', '480'),
    ('answer_over_cap', '503'),
    ('answer_no_route', '404'),
    ('answer_trunks_down', '503'),
    ('answer_announcement', '480');

-- Call detail records: one row per call, keyed by the id trunxd gave its record so
-- that a batch written twice (journal replay) lands once.
CREATE TABLE calls (
    cdr_id      uuid PRIMARY KEY,
    node_id     text NOT NULL,
    call_id     text NOT NULL,
    a_call_id   text,
    b_call_id   text,
    from_number text,
    to_number   text,
    did         text,
    tenant_id   text,
    trunk_in    text,
    trunk_out   text,
    start_at    timestamptz NOT NULL,
    answer_at   timestamptz,
    end_at      timestamptz NOT NULL,
    setup_ms    integer,
    answer_ms   integer,
    duration_ms bigint,
    result      text NOT NULL,
    sip_code    integer,
    cause       text,
    reason      text,
    codec_a     text,
    codec_b     text,
    rtp_a_in    bigint,
    rtp_a_out   bigint,
    rtp_a_lost  bigint,
    rtp_b_in    bigint,
    rtp_b_out   bigint,
    rtp_b_lost  bigint,
    rtp_dropped bigint,
    record      jsonb NOT NULL,
    inserted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX calls_start_at ON calls (start_at);
CREATE INDEX calls_did ON calls (did);
CREATE INDEX calls_tenant ON calls (tenant_id, start_at);

-- Every state change worth telling (trunk.up/down, callerid.rejected, ...).
CREATE TABLE events (
    id          bigserial PRIMARY KEY,
    event_id    uuid NOT NULL UNIQUE,
    type        text NOT NULL,
    at          timestamptz NOT NULL,
    node_id     text NOT NULL,
    tenant_id   text,
    trunk       text,
    call_id     text,
    data        jsonb NOT NULL DEFAULT '{}',
    inserted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_type_at ON events (type, at);
