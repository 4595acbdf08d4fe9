-- SQLite variant of 001_initial_schema.up.sql: the same tables, columns and
-- constraints in SQLite's dialect (JSON as checked text, booleans as 0/1,
-- timestamps as UTC text the way Django writes them).

CREATE TABLE portfolios (
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
CREATE INDEX portfolios_owner_email_idx ON portfolios (owner_email);

CREATE TABLE rebalance_events (
    id               integer PRIMARY KEY AUTOINCREMENT,
    portfolio_id     text NOT NULL REFERENCES portfolios (id) ON DELETE CASCADE,
    idempotency_key  text NOT NULL UNIQUE,
    trigger          text NOT NULL
                     CHECK (trigger IN ('scheduled', 'drift', 'manual', 'cash_flow')),
    status           text NOT NULL
                     CHECK (status IN ('pending', 'executing', 'completed', 'failed', 'cancelled')),
    trades           text NOT NULL DEFAULT '[]' CHECK (json_valid(trades) AND json_type(trades) = 'array'),
    drift_before_pct decimal(6, 3),
    triggered_at     datetime NOT NULL,
    completed_at     datetime,
    failure_reason   text,
    created_at       datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CHECK (completed_at IS NULL OR completed_at >= triggered_at),
    CHECK (status <> 'failed' OR failure_reason IS NOT NULL)
);
CREATE INDEX rebalance_events_portfolio_triggered_idx
    ON rebalance_events (portfolio_id, triggered_at DESC);
CREATE INDEX rebalance_events_status_idx ON rebalance_events (status);

CREATE TABLE analytics_snapshots (
    id                    integer PRIMARY KEY AUTOINCREMENT,
    portfolio_id          text NOT NULL REFERENCES portfolios (id) ON DELETE CASCADE,
    snapshot_date         date NOT NULL,
    total_value           decimal(20, 2) NOT NULL CHECK (total_value >= 0),
    daily_return_pct      decimal(9, 4),
    cumulative_return_pct decimal(9, 4),
    allocation            text NOT NULL DEFAULT '{}'
                          CHECK (json_valid(allocation) AND json_type(allocation) = 'object'),
    created_at            datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (portfolio_id, snapshot_date)
);

CREATE TABLE notification_preferences (
    id           integer PRIMARY KEY AUTOINCREMENT,
    portfolio_id text NOT NULL REFERENCES portfolios (id) ON DELETE CASCADE,
    channel      text NOT NULL CHECK (channel IN ('email', 'push', 'sms', 'webhook')),
    event_type   text NOT NULL
                 CHECK (event_type IN ('rebalance_completed', 'rebalance_failed', 'drift_alert', 'daily_summary')),
    enabled      bool NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    updated_at   datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (portfolio_id, channel, event_type)
);
