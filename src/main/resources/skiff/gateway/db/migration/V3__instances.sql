-- Several gateway instances on one database (PostgreSQL): each request belongs to the instance working on it, each
-- instance beats a heartbeat, and the requests of an instance that stopped beating are taken over by another.
ALTER TABLE requests ADD COLUMN instance VARCHAR(40) NOT NULL DEFAULT '';
CREATE TABLE instances (
    id           VARCHAR(40)  PRIMARY KEY,
    host         VARCHAR(255) NOT NULL,
    heartbeat_ms BIGINT       NOT NULL
);
-- At most one request in progress per reference and platform, whichever instance took it: a duplicate joins it.
CREATE UNIQUE INDEX requests_one_active ON requests (reference, platform)
    WHERE state IN ('PENDING', 'PULLING', 'CONVERTING', 'PUBLISHING');
-- A row whose update serialises the rewrites of index.tsv between instances.
CREATE TABLE index_lock (
    id      INTEGER PRIMARY KEY,
    version BIGINT  NOT NULL
);
INSERT INTO index_lock (id, version) VALUES (1, 0);
