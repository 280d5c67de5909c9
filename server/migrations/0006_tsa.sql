-- Bidkey server schema, version 9: the RFC 3161 time-stamp authority (docs/cms-and-timestamps.md).

-- One TSA key and certificate per algorithm ('sm2', 'p256'); the key sealed with the CA
-- master key (row id = alg), replaced when its certificate nears its end.
CREATE TABLE tsa_keys (
    alg TEXT PRIMARY KEY,
    key_sealed BLOB NOT NULL,
    cert_der BLOB NOT NULL,
    created_at BIGINT NOT NULL
);

-- The last serial number given to a timestamp. One row; incremented in the transaction that
-- issues, so a serial is never given twice, across restarts and server processes.
CREATE TABLE tsa_serial (
    id BIGINT PRIMARY KEY,
    last_serial BIGINT NOT NULL
);
INSERT INTO tsa_serial (id, last_serial) VALUES (1, 0);
