-- Runs once, when the temporal-db volume is first initialized (docker-entrypoint-initdb.d):
-- POSTGRES_DB creates the history database `temporal`; visibility lives in its own database.
CREATE DATABASE temporal_visibility;
