-- sqlmigrate: allow-file ban-drop-table rolling 001 back removes the tables it created; sqlmigrate_down asks first and writes a backup
-- Children first, so no foreign key is left pointing at a dropped table.
DROP TABLE notification_preferences;
DROP TABLE analytics_snapshots;
DROP TABLE rebalance_events;
DROP TABLE portfolios;
