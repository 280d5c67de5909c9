-- Bidkey wallet, version 1. Secrets (token, key shares) are stored sealed by the device
-- keystore; key shares are additionally masked by the PIN with no redundancy.
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS session (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    account_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    token_sealed BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    account_json TEXT NOT NULL
);
-- One row per two-party key (signing or encryption) held by this phone.
CREATE TABLE IF NOT EXISTS key_shares (
    key_id TEXT PRIMARY KEY,          -- the server's id of this two-party key
    pair_id TEXT NOT NULL,
    usage TEXT NOT NULL,              -- signing | encryption
    public_key BLOB NOT NULL,         -- joint public key, SEC1
    salt BLOB NOT NULL,               -- PIN KDF salt
    share_sealed BLOB NOT NULL,       -- keystore-sealed (d1 + m(PIN) mod n)
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS certificates (
    serial TEXT PRIMARY KEY,
    pair_id TEXT NOT NULL,
    usage TEXT NOT NULL,
    enterprise_id TEXT,
    enterprise_name TEXT,
    subject TEXT NOT NULL,
    der BLOB NOT NULL,
    not_before INTEGER NOT NULL,
    not_after INTEGER NOT NULL,
    status TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS pending_ops (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cache (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    fetched_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    message TEXT NOT NULL
);
