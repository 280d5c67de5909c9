-- Bidkey server schema, version 1. Portable types only: TEXT, BIGINT, BLOB (BYTEA on
-- PostgreSQL). Times are Unix seconds; money is in fen (0.01 yuan). Ids are random hex.

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    phone TEXT NOT NULL UNIQUE,
    password_hash TEXT,
    real_name TEXT,
    id_number_hash TEXT,          -- HMAC of the ID number; the number itself is not stored
    id_number_masked TEXT,        -- e.g. 110***********1234, for display
    realname_method TEXT,         -- cfca | alipay | bankcard4
    realname_at BIGINT,
    created_at BIGINT NOT NULL
);

CREATE TABLE sms_codes (
    id TEXT PRIMARY KEY,
    phone TEXT NOT NULL,
    purpose TEXT NOT NULL,        -- signup | login | reset_password | change_phone | unlock | recover
    code_hash TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    used BIGINT NOT NULL DEFAULT 0,
    ip TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sms_codes_phone ON sms_codes (phone, purpose, created_at);

CREATE TABLE sms_outbox (
    id TEXT PRIMARY KEY,
    phone TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    device_id TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX tokens_account ON tokens (account_id);

CREATE TABLE rate_limits (
    bucket TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    hits BIGINT NOT NULL,
    PRIMARY KEY (bucket, window_start)
);

CREATE TABLE enterprises (
    id TEXT PRIMARY KEY,
    uscc TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    legal_rep TEXT,
    status TEXT NOT NULL,         -- registered | claimed
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX enterprises_name ON enterprises (name);

CREATE TABLE memberships (
    id TEXT PRIMARY KEY,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    account_id TEXT NOT NULL REFERENCES accounts (id),
    role TEXT NOT NULL,           -- admin | staff
    status TEXT NOT NULL,         -- active | removed
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- One admin per enterprise, always; one live membership per person and enterprise.
CREATE UNIQUE INDEX memberships_one_admin ON memberships (enterprise_id) WHERE role = 'admin' AND status = 'active';
CREATE UNIQUE INDEX memberships_one_live ON memberships (enterprise_id, account_id) WHERE status = 'active';

CREATE TABLE applications (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,           -- claim | join | personal | change_info | renew | reapply | recover
    account_id TEXT NOT NULL REFERENCES accounts (id),
    enterprise_id TEXT REFERENCES enterprises (id),
    status TEXT NOT NULL,         -- pending_admin | pending_review | awaiting_payment | paid | issued | closed | rejected
    reason TEXT,
    detail TEXT,                  -- JSON: what was asked for (new name, ...)
    order_id TEXT,
    idempotency_key TEXT UNIQUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX applications_account ON applications (account_id);
CREATE INDEX applications_status ON applications (status);

CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications (id),
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    data BLOB NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE micropayments (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    account_last6 TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    reference TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,         -- pending | matched | expired
    statement_line_id TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    matched_at BIGINT
);
-- No two live requests may share an amount for the same account tail.
CREATE UNIQUE INDEX micropayments_live_amount ON micropayments (account_last6, amount_fen) WHERE status = 'pending';

CREATE TABLE bank_statement_lines (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,         -- csv | webhook
    bank_txn_id TEXT NOT NULL UNIQUE,
    account_last6 TEXT NOT NULL,
    payer_name TEXT,
    amount_fen BIGINT NOT NULL,
    reference TEXT,
    booked_at BIGINT NOT NULL,
    imported_at BIGINT NOT NULL,
    micropayment_id TEXT
);

CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    enterprise_id TEXT REFERENCES enterprises (id),
    application_id TEXT,
    item TEXT NOT NULL,           -- key of the fee table
    amount_fen BIGINT NOT NULL,
    status TEXT NOT NULL,         -- pending_review | awaiting_payment | paid | issued | closed | rejected
    reason TEXT,
    payment_ref TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    paid_at BIGINT
);

CREATE TABLE invoices (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders (id),
    title TEXT NOT NULL,
    tax_number TEXT,
    amount_fen BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

-- A certificate pair (signing + encryption) of one holder: a person alone, or a person
-- acting for an enterprise.
CREATE TABLE cert_pairs (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    enterprise_id TEXT REFERENCES enterprises (id),
    device_id TEXT REFERENCES devices (id),
    status TEXT NOT NULL,         -- pending | valid | suspended | revoked | superseded
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE certificates (
    serial TEXT PRIMARY KEY,      -- hex
    pair_id TEXT NOT NULL REFERENCES cert_pairs (id),
    usage TEXT NOT NULL,          -- signing | encryption
    subject TEXT NOT NULL,
    der BLOB NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    status TEXT NOT NULL,         -- valid | suspended | revoked
    revoked_at BIGINT,
    revoke_reason BIGINT,         -- RFC 5280 CRLReason
    created_at BIGINT NOT NULL
);
CREATE INDEX certificates_pair ON certificates (pair_id);

-- The co-signing service's half of every two-party key, encrypted at rest.
CREATE TABLE cosign_keys (
    id TEXT PRIMARY KEY,
    pair_id TEXT NOT NULL REFERENCES cert_pairs (id),
    usage TEXT NOT NULL,          -- signing | encryption
    public_key BLOB NOT NULL,     -- joint public key, SEC1
    share_sealed BLOB NOT NULL,   -- d2 sealed with the server master key
    failed_pins BIGINT NOT NULL DEFAULT 0,
    locked BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

-- The KMC's escrow: every encryption key ever issued to a holder.
CREATE TABLE kmc_escrow (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    enterprise_id TEXT REFERENCES enterprises (id),
    public_key BLOB NOT NULL,
    key_sealed BLOB NOT NULL,     -- sealed with the KMC master key
    cert_serial TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX kmc_escrow_holder ON kmc_escrow (account_id, enterprise_id);

CREATE TABLE crl_state (
    id BIGINT PRIMARY KEY,
    crl_number BIGINT NOT NULL,
    der BLOB,
    this_update BIGINT
);

CREATE TABLE platforms (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    origin TEXT NOT NULL UNIQUE,
    region TEXT,
    latitude_e6 BIGINT,
    longitude_e6 BIGINT,
    cert_der BLOB,
    created_at BIGINT NOT NULL
);

CREATE TABLE grants (
    id TEXT PRIMARY KEY,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    account_id TEXT NOT NULL REFERENCES accounts (id),
    platform_id TEXT NOT NULL REFERENCES platforms (id),
    granted_by TEXT NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE UNIQUE INDEX grants_live ON grants (enterprise_id, account_id, platform_id) WHERE revoked_at IS NULL;

CREATE TABLE zones (
    id TEXT PRIMARY KEY,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    platform_id TEXT NOT NULL REFERENCES platforms (id),
    created_at BIGINT NOT NULL,
    UNIQUE (enterprise_id, platform_id)
);

-- Names and USCCs that each trading platform knows (zones bind only when they match).
CREATE TABLE platform_directory (
    platform_id TEXT NOT NULL REFERENCES platforms (id),
    uscc TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (platform_id, uscc)
);

CREATE TABLE seals (
    id TEXT PRIMARY KEY,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    name TEXT NOT NULL,
    image BLOB NOT NULL,
    image_sha256 TEXT NOT NULL,
    cert_serial TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    application_id TEXT,
    text_zh TEXT NOT NULL,
    text_en TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    read_at BIGINT
);

CREATE TABLE idempotency (
    key TEXT PRIMARY KEY,
    account_id TEXT,
    response TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,          -- account id, operator:NAME, platform:ID or system
    action TEXT NOT NULL,
    target TEXT,
    ip TEXT,
    detail TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
