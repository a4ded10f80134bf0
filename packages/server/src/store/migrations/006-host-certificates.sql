-- Which client certificate of the host CA is a host's (docs/security.md "Host identity"): the
-- SHA-256 of the DER of the one issued last and of the one before it (kept while a renewal
-- overlaps: the BasicAgent presents the old one until it reconnects). The hub accepts only
-- these two at init. NULL: nothing recorded (hosts registered before this migration, or
-- registered here without a CSR): any valid certificate for the agentsn, as before. '' after an
-- operator reset: none until the host registers again.
ALTER TABLE hosts ADD COLUMN cert_sha256 TEXT;
ALTER TABLE hosts ADD COLUMN prev_cert_sha256 TEXT;
