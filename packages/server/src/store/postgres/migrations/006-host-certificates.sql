-- PostgreSQL twin of ../../migrations/006-host-certificates.sql (the host's current and
-- previous client certificate, SHA-256 of the DER, hex).
ALTER TABLE hosts ADD COLUMN cert_sha256 TEXT;
ALTER TABLE hosts ADD COLUMN prev_cert_sha256 TEXT;
