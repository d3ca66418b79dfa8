-- 002_routing_notify.sql — routing changes reach every node at once: each change to
-- a table the routing snapshot is built from sends a NOTIFY on 'trunx_routing' whose
-- payload names the table; a change of up to 100 DIDs names the numbers
-- ('did_numbers:+15550001000,+15550001001'), so a node re-reads only those.
-- Also the [route]-style rules as data: a number that is no DID may still be routed
-- by a pattern ('+1555*', '*'), as a file's [route] sections do.

CREATE TABLE routes (
    name       text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.-]{1,63}$'),
    match      text NOT NULL CHECK (match = '*' OR match ~ '^\+[1-9][0-9]{0,14}\*?$'),
    -- Only for calls from this carrier trunk or peer (name); NULL: any.
    from_trunk text CHECK (from_trunk ~ '^[A-Za-z0-9_.-]{1,63}$'),
    -- Destination trunk or peer (name), its uri and policies; NULL: uri alone.
    to_trunk   text CHECK (to_trunk ~ '^[A-Za-z0-9_.-]{1,63}$'),
    -- Destination URI template ({did}, {national}); NULL: to_trunk's uri.
    uri        text CHECK (uri ~ '^sips?:[!-~]{1,240}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (to_trunk IS NOT NULL OR uri IS NOT NULL)
);

CREATE FUNCTION trunx_notify_routing() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('trunx_routing', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE FUNCTION trunx_notify_dids() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    nums text[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(number) INTO nums FROM (SELECT number FROM new_rows LIMIT 101) s;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(number) INTO nums FROM (SELECT number FROM old_rows LIMIT 101) s;
    ELSE
        SELECT array_agg(number) INTO nums FROM (
            SELECT number FROM new_rows UNION SELECT number FROM old_rows LIMIT 101) s;
    END IF;
    IF nums IS NULL THEN
        RETURN NULL;
    END IF;
    IF array_length(nums, 1) > 100 THEN
        PERFORM pg_notify('trunx_routing', 'did_numbers');
    ELSE
        PERFORM pg_notify('trunx_routing', 'did_numbers:' || array_to_string(nums, ','));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER did_numbers_ins AFTER INSERT ON did_numbers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION trunx_notify_dids();
CREATE TRIGGER did_numbers_upd AFTER UPDATE ON did_numbers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION trunx_notify_dids();
CREATE TRIGGER did_numbers_del AFTER DELETE ON did_numbers
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION trunx_notify_dids();
CREATE TRIGGER did_numbers_trunc AFTER TRUNCATE ON did_numbers
    FOR EACH STATEMENT EXECUTE FUNCTION trunx_notify_routing();

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['tenants', 'carrier_trunks', 'customer_peers', 'outbound_routes',
                             'channel_pools', 'settings', 'routes'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION trunx_notify_routing()',
                       t || '_notify', t);
    END LOOP;
END
$$;
