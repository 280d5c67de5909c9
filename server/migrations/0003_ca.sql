-- Bidkey server schema, version 3: CA, KMC and co-signing service.

-- One enrolment of a paid application: two-party key generation, the co-signed CSR, then
-- issuance in one transaction. `result` keeps the answer so a retried finish returns it.
CREATE TABLE enrollments (
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications (id),
    account_id TEXT NOT NULL REFERENCES accounts (id),
    device_id TEXT NOT NULL REFERENCES devices (id),
    status TEXT NOT NULL,         -- keygen | csr | signed | issued
    keygen_session TEXT NOT NULL, -- hex of the random hazmat session id
    sign_session TEXT,            -- hex; the one co-signature (of the CSR) the new key makes
    subject_der BLOB NOT NULL,
    public_key BLOB,              -- joint signing key, SEC1
    share_sealed BLOB,            -- server share d2 ‖ P1 ‖ P, sealed (AAD: enrollment id)
    result TEXT,                  -- JSON EnrollResult once issued
    pair_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX enrollments_application ON enrollments (application_id);
CREATE UNIQUE INDEX enrollments_one_issued ON enrollments (application_id) WHERE status = 'issued';

-- Single-use sessions of the co-signing service.
CREATE TABLE cosign_sessions (
    id TEXT PRIMARY KEY,          -- hex of the random hazmat session id
    key_id TEXT NOT NULL REFERENCES cosign_keys (id),
    account_id TEXT NOT NULL REFERENCES accounts (id),
    device_id TEXT NOT NULL,
    purpose TEXT NOT NULL,        -- sign | revoke | decrypt
    challenge BLOB,               -- revoke: the message to sign
    digest BLOB,                  -- sign/revoke: e, kept for server_check_final
    status TEXT NOT NULL,         -- open | answered | done | failed | consumed
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

ALTER TABLE cosign_keys ADD COLUMN cert_serial TEXT;
ALTER TABLE cosign_keys ADD COLUMN updated_at BIGINT;
CREATE INDEX cosign_keys_pair ON cosign_keys (pair_id);
CREATE INDEX cosign_keys_serial ON cosign_keys (cert_serial);

ALTER TABLE cert_pairs ADD COLUMN application_id TEXT;
CREATE INDEX cert_pairs_holder ON cert_pairs (account_id, enterprise_id);

-- Escrow rows of a holder who revoked (注销) are withdrawn: never re-delivered.
ALTER TABLE kmc_escrow ADD COLUMN withdrawn_at BIGINT;

-- id 1: the issuing CA's CRL; id 2: the root's CRL (ARL). `fingerprint` is an SM3 over the
-- revoked and suspended rows the CRL was built from, so changes made directly to
-- `certificates` by other modules are noticed.
ALTER TABLE crl_state ADD COLUMN next_update BIGINT;
ALTER TABLE crl_state ADD COLUMN fingerprint TEXT;
