-- Bidkey server schema, version 4: the scan relay (docs/scan-protocol.md).

-- Sessions (会话) a phone opened with a platform by answering a `session` request; the
-- platform then sends requests inside it without a QR code.
CREATE TABLE scan_sessions (
    id TEXT PRIMARY KEY,          -- 32 hex, chosen by the phone (SessionGrant.session_id)
    account_id TEXT NOT NULL REFERENCES accounts (id),
    platform_id TEXT NOT NULL REFERENCES platforms (id),
    request_id TEXT NOT NULL,     -- the session request that opened it
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    auto_confirm BIGINT NOT NULL,
    ended_at BIGINT
);
CREATE INDEX scan_sessions_account ON scan_sessions (account_id, created_at);

-- Signed requests of platforms. The relay keeps the QR secret (to check rotating codes) and
-- only a hash of the poll secret; the reply is sealed to the platform and opaque here.
CREATE TABLE scan_requests (
    id TEXT PRIMARY KEY,          -- the body's request_id
    platform_id TEXT NOT NULL REFERENCES platforms (id),
    kind TEXT NOT NULL,           -- bind | login | sign | decrypt | session
    session_id TEXT REFERENCES scan_sessions (id),
    request TEXT NOT NULL,        -- JSON SignedScanRequest, as the platform sent it
    qr_secret BLOB,               -- NULL for session requests (no QR code)
    poll_hash TEXT NOT NULL,      -- hex SM3(poll secret)
    webhook_url TEXT,
    created_at BIGINT NOT NULL,   -- the relay's clock; QR frame t counts from here
    expires_at BIGINT NOT NULL,
    status TEXT NOT NULL,         -- pending | scanned | answered
    outcome TEXT,                 -- approved | rejected
    claimed_by TEXT REFERENCES accounts (id),
    claimed_at BIGINT,
    sealed TEXT,                  -- JSON SealedReply
    answered_at BIGINT
);
CREATE INDEX scan_requests_session ON scan_requests (session_id, status, expires_at);
CREATE INDEX scan_requests_platform ON scan_requests (platform_id, created_at);
