-- Remove exactly what 002_seed_demo_data.up.sql inserted; other portfolios and
-- their rows are not touched.
DELETE FROM notification_preferences WHERE portfolio_id = 'demo-portfolio-1';
DELETE FROM analytics_snapshots WHERE portfolio_id = 'demo-portfolio-1';
DELETE FROM rebalance_events
WHERE idempotency_key IN ('demo-rebalance-2026-01', 'demo-rebalance-2026-02-drift',
                          'demo-rebalance-2026-02', 'demo-rebalance-2026-03');
DELETE FROM portfolios WHERE id = 'demo-portfolio-1';
