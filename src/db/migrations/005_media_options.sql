-- 005_media_options.sql — the media options a file's [trunk] and [route] sections have,
-- as columns, so that a carrier or peer added as data can use SRTP, TLS peer
-- verification, SIP INFO or in-band DTMF, Opus settings, recording and AMD.
--
-- Defaults are file mode's defaults (conf/trunx.conf), so every existing row keeps
-- behaving exactly as before. Values are parsed by the same code as the file's keys
-- (src/conf/conf_value.c via conf_trunk_set / conf_route_set).
--
-- Trunks and peers: srtp (off | optional | required), srtp_without_tls (SDES keys may
-- cross signalling that is not TLS), tls_verify, dtmf (rfc4733 | inband | info),
-- opus_complexity (0-10), opus_fec, opus_dtx. The codec order is the existing codecs
-- column (opus may now be named there).
--
-- record / amd: where a call's route is chosen — a DID (inbound calls to it), an
-- outbound route rule (calls of a tenant's PBX through it) and a [route]-style rule
-- (routes). record_dir NULL: no recording; otherwise every answered call is recorded
-- into that folder as CALL-ID.wav. amd: answering-machine detection on the called leg
-- from answer (call.amd, call.beep).

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['carrier_trunks', 'customer_peers'] LOOP
        EXECUTE format($f$
            ALTER TABLE %I
                ADD COLUMN srtp text NOT NULL DEFAULT 'off'
                    CHECK (srtp IN ('off', 'optional', 'required')),
                ADD COLUMN srtp_without_tls boolean NOT NULL DEFAULT false,
                ADD COLUMN tls_verify boolean NOT NULL DEFAULT true,
                ADD COLUMN dtmf text NOT NULL DEFAULT 'rfc4733'
                    CHECK (dtmf IN ('rfc4733', 'inband', 'info')),
                ADD COLUMN opus_complexity integer NOT NULL DEFAULT 5
                    CHECK (opus_complexity BETWEEN 0 AND 10),
                ADD COLUMN opus_fec boolean NOT NULL DEFAULT true,
                ADD COLUMN opus_dtx boolean NOT NULL DEFAULT false
            $f$, t);
    END LOOP;

    FOREACH t IN ARRAY ARRAY['did_numbers', 'outbound_routes', 'routes'] LOOP
        EXECUTE format($f$
            ALTER TABLE %I
                ADD COLUMN record_dir text
                    CHECK (record_dir ~ '^/[!-~]{0,200}$' AND record_dir !~ '(^|/)\.\.?(/|$)'),
                ADD COLUMN amd boolean NOT NULL DEFAULT false
            $f$, t);
    END LOOP;
END
$$;

-- Before this migration a database trunk's TLS peer was not verified (the option did not
-- exist and read as off). Rows that already use TLS keep that, so that none stops
-- working at the upgrade; every new row gets the file's default (verify), and an
-- operator turns it on for the old ones with an UPDATE once the CAs are in place.
UPDATE carrier_trunks SET tls_verify = false WHERE transport = 'tls';
UPDATE customer_peers SET tls_verify = false WHERE transport = 'tls';

-- srtp = required sends SDES keys: only over TLS, unless the trunk allows otherwise
-- (as a file's [trunk] check does).
ALTER TABLE carrier_trunks ADD CONSTRAINT carrier_trunks_srtp_tls
    CHECK (srtp <> 'required' OR endpoint_host IS NULL OR transport = 'tls' OR srtp_without_tls);
ALTER TABLE customer_peers ADD CONSTRAINT customer_peers_srtp_tls
    CHECK (srtp <> 'required' OR host IS NULL OR transport = 'tls' OR srtp_without_tls);
