-- One database, a schema per service (DESIGN.md, "Storage"): each service's event store lives in its own
-- schema (POSTGRES_SCHEMA), so services never share tables and one can be moved to its own server.
-- Run once by the postgres image on an empty data directory.
CREATE SCHEMA IF NOT EXISTS eligibility;
CREATE SCHEMA IF NOT EXISTS penalties;
CREATE SCHEMA IF NOT EXISTS resettlement;
CREATE SCHEMA IF NOT EXISTS training;
CREATE SCHEMA IF NOT EXISTS monitoring;
CREATE SCHEMA IF NOT EXISTS federation;
CREATE SCHEMA IF NOT EXISTS gateway;
