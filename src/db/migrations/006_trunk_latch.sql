-- 006_trunk_latch.sql — a file's [trunk] latch as a column of trunks and peers: which
-- RTP sources may latch the media of that trunk's legs. 'node' (the default, so every
-- existing row keeps behaving as before) follows the node's [media] latch; 'known'
-- takes only the SDP address's or the party's signalling IPs; 'any' takes the first
-- source (a NATed party behind a signalling-only proxy), for that trunk's legs only.
-- Parsed by the same code as the file's key (conf_trunk_set).

ALTER TABLE carrier_trunks
    ADD COLUMN latch text NOT NULL DEFAULT 'node' CHECK (latch IN ('node', 'known', 'any'));
ALTER TABLE customer_peers
    ADD COLUMN latch text NOT NULL DEFAULT 'node' CHECK (latch IN ('node', 'known', 'any'));
