-- SQLite lets a PRIMARY KEY that is not INTEGER hold NULL (a compatibility quirk its
-- documentation keeps), and 001's CHECK passes for NULL: portfolios.id accepted NULL,
-- which PostgreSQL and the model refuse (tests/test_backend_schema.py compares them).
-- SQLite cannot add NOT NULL to a column, so the table is rebuilt (its documented
-- procedure; the runner turns foreign keys off for the migration and checks them before
-- COMMIT, so the children's rows stay). A portfolio whose id is NULL makes it fail on the
-- INSERT, changing nothing: give it an id or delete it, then run it again.

CREATE TABLE portfolios_rebuilt (
    id                  text NOT NULL PRIMARY KEY
                        CHECK (length(id) BETWEEN 1 AND 63 AND id NOT GLOB '*[^a-z0-9-]*' AND id NOT GLOB '-*'),
    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    owner_email         text NOT NULL CHECK (instr(owner_email, '@') > 1),
    base_currency       char(3) NOT NULL CHECK (length(base_currency) = 3 AND base_currency NOT GLOB '*[^A-Z]*'),
    target_allocation   text NOT NULL DEFAULT '{}'
                        CHECK (json_valid(target_allocation) AND json_type(target_allocation) = 'object'),
    drift_threshold_pct decimal(5, 2) NOT NULL DEFAULT 5.00
                        CHECK (drift_threshold_pct > 0 AND drift_threshold_pct <= 100),
    rebalance_frequency text NOT NULL DEFAULT 'monthly'
                        CHECK (rebalance_frequency IN ('manual', 'daily', 'weekly', 'monthly', 'quarterly')),
    created_at          datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at          datetime NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO portfolios_rebuilt SELECT * FROM portfolios;
DROP TABLE portfolios;
ALTER TABLE portfolios_rebuilt RENAME TO portfolios;
CREATE INDEX portfolios_owner_email_idx ON portfolios (owner_email);
