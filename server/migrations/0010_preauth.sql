-- Pre-authorised bid opening (issue 17 §4, ADR 0027): what a bidder's phone deposits so a
-- bid opens at its opening time without the phone. The file key K = K1 xor K2: K1 sealed
-- (SM2) to the platform's certificate, K2 held here; released to that platform only, for
-- that file only (binding hash), at or after opening_at by the server's clock.
CREATE TABLE preauths (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    platform_id TEXT NOT NULL REFERENCES platforms (id),
    tender_id TEXT NOT NULL,
    binding_hash TEXT NOT NULL,   -- hex, the bid-file header's binding hash
    file_name TEXT NOT NULL,
    opening_at BIGINT NOT NULL,
    k1_sealed BLOB NOT NULL,      -- K1 encrypted with SM2 to the platform's certificate
    k2 BLOB,                      -- K2 sealed (SM4-GCM) under a key from the CA key file, AAD = row id; wiped (NULL) when withdrawn
    created_at BIGINT NOT NULL,
    withdrawn_at BIGINT,
    released_at BIGINT            -- first release to the platform
);
CREATE INDEX preauths_file ON preauths (platform_id, binding_hash);
CREATE INDEX preauths_account ON preauths (account_id);
