-- The demo portfolio a newcomer sees after set-up. Idempotent: every insert hits a
-- unique key on a second run and is skipped, so running this file again changes nothing.
-- Production can skip it: sqlmigrate_up --target 1 (see README).

INSERT INTO portfolios (id, name, owner_email, base_currency, target_allocation,
                        drift_threshold_pct, rebalance_frequency, created_at, updated_at)
VALUES ('demo-portfolio-1', 'Demo balanced portfolio', 'demo@example.com', 'USD',
        '{"VTI": 40, "VXUS": 20, "BND": 30, "VNQ": 10}', 5.00, 'monthly',
        '2026-01-02 09:00:00+00', '2026-01-02 09:00:00+00')
ON CONFLICT DO NOTHING;

INSERT INTO rebalance_events (portfolio_id, idempotency_key, trigger, status, trades,
                              drift_before_pct, triggered_at, completed_at, failure_reason)
VALUES
    ('demo-portfolio-1', 'demo-rebalance-2026-01', 'scheduled', 'completed',
     '[{"asset": "VTI", "side": "sell", "quantity": "4", "price": "268.40"}, {"asset": "BND", "side": "buy", "quantity": "15", "price": "72.15"}]',
     3.120, '2026-01-31 14:00:00+00', '2026-01-31 14:02:10+00', NULL),
    ('demo-portfolio-1', 'demo-rebalance-2026-02-drift', 'drift', 'completed',
     '[{"asset": "VXUS", "side": "buy", "quantity": "12", "price": "61.02"}]',
     5.840, '2026-02-17 15:30:00+00', '2026-02-17 15:31:45+00', NULL),
    ('demo-portfolio-1', 'demo-rebalance-2026-02', 'scheduled', 'failed',
     '[]', 1.210, '2026-02-28 14:00:00+00', '2026-02-28 14:00:30+00',
     'Market closed for the trading venue'),
    ('demo-portfolio-1', 'demo-rebalance-2026-03', 'scheduled', 'completed',
     '[{"asset": "VNQ", "side": "sell", "quantity": "2", "price": "88.90"}]',
     2.050, '2026-03-31 14:00:00+00', '2026-03-31 14:01:05+00', NULL)
ON CONFLICT DO NOTHING;

INSERT INTO analytics_snapshots (portfolio_id, snapshot_date, total_value, daily_return_pct,
                                 cumulative_return_pct, allocation)
VALUES
    ('demo-portfolio-1', '2026-03-27', 100250.00, 0.1500, 0.2500, '{"VTI": 40.6, "VXUS": 19.7, "BND": 29.8, "VNQ": 9.9}'),
    ('demo-portfolio-1', '2026-03-30', 100812.40, 0.5610, 0.8124, '{"VTI": 40.9, "VXUS": 19.6, "BND": 29.6, "VNQ": 9.9}'),
    ('demo-portfolio-1', '2026-03-31', 100530.10, -0.2800, 0.5301, '{"VTI": 40.0, "VXUS": 20.0, "BND": 30.0, "VNQ": 10.0}')
ON CONFLICT DO NOTHING;

INSERT INTO notification_preferences (portfolio_id, channel, event_type, enabled)
VALUES
    ('demo-portfolio-1', 'email', 'rebalance_completed', true),
    ('demo-portfolio-1', 'email', 'rebalance_failed', true),
    ('demo-portfolio-1', 'push', 'drift_alert', true),
    ('demo-portfolio-1', 'sms', 'rebalance_failed', false)
ON CONFLICT DO NOTHING;
