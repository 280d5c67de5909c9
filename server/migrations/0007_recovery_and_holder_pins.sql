-- ADR 0011: the wrong-PIN counter belongs to the holder (the wallet's PIN for one account and
-- one enterprise, or the person's own), not to each certificate pair, so k pairs do not give
-- 5·k guesses and a recovered pair inherits the lock of the pair it replaces.
CREATE TABLE pin_holders (
    holder TEXT PRIMARY KEY,      -- account_id ':' enterprise_id (empty for a personal pair)
    failed_pins BIGINT NOT NULL DEFAULT 0,
    locked BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL
);
-- Carry over the counts of the pairs that can still be used.
INSERT INTO pin_holders (holder, failed_pins, locked, updated_at)
SELECT p.account_id || ':' || COALESCE(p.enterprise_id, ''), MAX(k.failed_pins), MAX(k.locked), MAX(k.created_at)
FROM cosign_keys k JOIN cert_pairs p ON p.id = k.pair_id
WHERE p.status IN ('pending', 'valid', 'suspended')
GROUP BY p.account_id, p.enterprise_id;

-- Every unlock (解锁), so that unlocks are limited per holder in a sliding window.
CREATE TABLE pin_unlocks (
    id TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX pin_unlocks_holder ON pin_unlocks (holder, at);

-- A recovery (证书找回) cannot enrol before this server time (the cooling-off period).
ALTER TABLE applications ADD COLUMN not_before BIGINT;
