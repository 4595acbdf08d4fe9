-- Children first, so no foreign key is left pointing at a dropped table.
DROP TABLE notification_preferences;
DROP TABLE analytics_snapshots;
DROP TABLE rebalance_events;
DROP TABLE portfolios;
