-- ADR 0020: operator tokens are named and expire. `bidkey-server operator token --name alice
-- --valid 8h` stores the token's hash (never the token); each operator action records the
-- name in the audit log.
CREATE TABLE operator_tokens (
    token_hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX operator_tokens_name ON operator_tokens (name);
