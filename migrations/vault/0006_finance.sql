-- The finance overview (vault/finance): what the owner taught the categoriser.
--
-- A category the owner chose for one transaction (a bank-transaction record)...
CREATE TABLE finance_overrides (
    record_id  TEXT PRIMARY KEY REFERENCES records(id) ON DELETE CASCADE,
    category   TEXT NOT NULL,
    decided_at TEXT NOT NULL
);

-- ...and the rule learnt from it: every transaction with this counterparty
-- ("iban:NL91ABNA0417164300" or "name:woonstichting de kern") gets this category.
CREATE TABLE finance_rules (
    counterparty TEXT PRIMARY KEY,
    category     TEXT NOT NULL,
    learnt_from  TEXT NOT NULL,
    learnt_at    TEXT NOT NULL
);
