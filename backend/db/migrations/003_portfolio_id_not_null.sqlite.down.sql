-- Back to 001's definition of portfolios (id without NOT NULL); see the up file.

CREATE TABLE portfolios_rebuilt (
    id                  text PRIMARY KEY
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
